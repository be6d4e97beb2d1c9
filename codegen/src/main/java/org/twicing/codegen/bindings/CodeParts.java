package org.twicing.codegen.bindings;

import static org.twicing.codegen.bindings.JavadocText.code;
import static org.twicing.codegen.bindings.JavadocText.javadoc;
import static org.twicing.codegen.bindings.RuntimeApi.INPUT_CHECK;
import static org.twicing.codegen.bindings.RuntimeApi.ONNX_TENSOR;

import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.TypeName;
import java.util.List;
import java.util.Map;
import javax.lang.model.element.Modifier;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.TensorSpec;

/**
 * Code the model class and the trainer class share: the tensor-spec constants and the body of a public method that
 * checks its array or buffer inputs, wraps them as tensors and hands them to a private method on named feeds.
 */
final class CodeParts {
  /** Map.of takes at most this many entries. */
  private static final int MAP_OF_LIMIT = 10;

  private CodeParts() { }

  /** Body of a public run (or step) method: check the inputs, wrap them as tensors, hand over to the feeds method. */
  static void feed(MethodSpec.Builder m, List<Port> inputs, boolean buffers) {
    if (buffers || inputs.stream().anyMatch(p -> p.spec().rank() > 0)) {
      m.addStatement("$T check = new $T(MODEL)", INPUT_CHECK, INPUT_CHECK);
    }
    for (Port p : inputs) {
      if (buffers) {
        m.addStatement("check.buffer($N, $N, $N)", p.constant(), p.member(), p.shapeParam());
      } else if (p.spec().rank() > 0) {
        m.addStatement("check.array($N, $N)", p.constant(), p.member());
      }
    }
    CodeBlock.Builder resources = CodeBlock.builder();
    for (int i = 0; i < inputs.size(); i++) {
      Port p = inputs.get(i);
      resources.add(i == 0 ? "" : ";\n$>$>").add("$T $N = $L", ONNX_TENSOR, p.tensorVar(),
          buffers ? p.fromBuffer() : p.fromArray());
      if (i > 0) {
        resources.add("$<$<");
      }
    }
    m.beginControlFlow("try ($L)", resources.build());
  }

  /** Closes the try of {@link #feed} with {@code return call(feeds)}. */
  static void endFeed(MethodSpec.Builder m, List<Port> inputs, String call, String trailingArgs) {
    m.addStatement("return $N($L$L)", call, feedsMap(inputs), trailingArgs);
    m.endControlFlow();
  }

  /** {@code Map.of(NAME.name(), tensor, ...)}, or {@code Map.ofEntries} beyond ten inputs. */
  private static CodeBlock feedsMap(List<Port> inputs) {
    CodeBlock.Builder b = CodeBlock.builder();
    if (inputs.size() <= MAP_OF_LIMIT) {
      b.add("$T.of(", Map.class);
      for (int i = 0; i < inputs.size(); i++) {
        b.add(i == 0 ? "" : ", ").add("$N.name(), $N", inputs.get(i).constant(), inputs.get(i).tensorVar());
      }
    } else {
      b.add("$T.ofEntries(", Map.class);
      for (int i = 0; i < inputs.size(); i++) {
        b.add(i == 0 ? "" : ",$W").add("$T.entry($N.name(), $N)", Map.class, inputs.get(i).constant(),
            inputs.get(i).tensorVar());
      }
    }
    return b.add(")").build();
  }

  /** A documented {@code private static final} constant. */
  static FieldSpec constant(TypeName type, String name, CodeBlock init, String doc) {
    return FieldSpec.builder(type, name, Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
        .addJavadoc("$L", javadoc(doc))
        .initializer(init)
        .build();
  }

  /** The {@code TensorSpec} constant of a port; {@code role} starts its Javadoc. */
  static FieldSpec specField(Port p, String role) {
    return constant(ClassName.get(TensorSpec.class), p.constant(), specOf(p.spec()),
        role + " " + code(p.spec().name()) + ": " + p.spec().dtype() + " " + code(p.spec().shape()) + ".");
  }

  /** The expression {@code TensorSpec.of(name, DType.X, dims...)} recreating {@code s}. */
  static CodeBlock specOf(TensorSpec s) {
    CodeBlock.Builder b = CodeBlock.builder().add("$T.of($S, $T.$L", TensorSpec.class, s.name(), DType.class,
        s.dtype().name());
    for (int i = 0; i < s.rank(); i++) {
      if (s.dim(i).isFixed()) {
        long n = s.dim(i).size();
        b.add(n <= Integer.MAX_VALUE ? ", $L" : ", $LL", n);
      } else {
        b.add(", $S", s.dim(i).symbol());
      }
    }
    return b.add(")").build();
  }

  /** {@code List.of(CONSTANT, ...)} of the ports' spec constants. */
  static CodeBlock listOf(List<Port> ports) {
    return CodeBlock.of("$T.of($L)", List.class,
        ports.stream().map(p -> CodeBlock.of("$N", p.constant())).collect(CodeBlock.joining(", ")));
  }
}
