package org.twicing.dsl.ir;

import java.util.Objects;
import org.twicing.dsl.types.Tensor;

/**
 * A typed attribute key: the ONNX attribute name and the Java type of its value. Ops declare their keys as
 * constants, so attributes are never looked up by bare strings.
 *
 * @param <T> the Java type of the attribute's value
 */
public final class Attr<T> {
  /** The ONNX attribute kinds this project emits. */
  public enum Kind { INT, INTS, FLOAT, FLOATS, STRING, TENSOR }

  private final String name;
  private final Kind kind;
  private final Class<T> javaType;

  private Attr(String name, Kind kind, Class<T> javaType) {
    this.name = name;
    this.kind = kind;
    this.javaType = javaType;
  }

  /** An integer attribute. */
  public static Attr<Long> integer(String name) {
    return new Attr<>(name, Kind.INT, Long.class);
  }

  /** A list-of-integers attribute. */
  public static Attr<long[]> ints(String name) {
    return new Attr<>(name, Kind.INTS, long[].class);
  }

  /** A float attribute (emitted as float32, held as double). */
  public static Attr<Double> real(String name) {
    return new Attr<>(name, Kind.FLOAT, Double.class);
  }

  /** A list-of-floats attribute. */
  public static Attr<double[]> reals(String name) {
    return new Attr<>(name, Kind.FLOATS, double[].class);
  }

  /** A string attribute. */
  public static Attr<String> string(String name) {
    return new Attr<>(name, Kind.STRING, String.class);
  }

  /** A tensor attribute. */
  public static Attr<Tensor> tensor(String name) {
    return new Attr<>(name, Kind.TENSOR, Tensor.class);
  }

  /** The ONNX attribute name. */
  public String name() {
    return name;
  }

  /** The ONNX attribute kind. */
  public Kind kind() {
    return kind;
  }

  /** Checks and casts a value to this key's type. */
  public T cast(Object value) {
    return javaType.cast(value);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Attr<?> a && a.name.equals(name) && a.kind == kind;
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, kind);
  }

  @Override
  public String toString() {
    return name;
  }
}
