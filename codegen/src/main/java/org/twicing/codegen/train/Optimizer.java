package org.twicing.codegen.train;

import static org.twicing.dsl.ops.Ops.*;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.twicing.dsl.ir.Value;
import org.twicing.dsl.types.DType;
import org.twicing.dsl.types.Tensor;

/**
 * An optimizer emitted as graph ops: given a parameter, its gradient and its state tensors, the next parameter
 * and state values. Hyper-parameters are fixed at emission; {@code lr} and {@code step} are graph inputs.
 */
public sealed interface Optimizer permits Optimizer.AdamW, Optimizer.Sgd {
  /** Suffixes of the per-parameter state tensors ({@code exp_avg}, ...), in input order. */
  List<String> stateNames();

  /** Weight decay coefficient. */
  double weightDecay();

  /** A short description for metadata. */
  String describe();

  /**
   * The updated parameter and states (keys: "" for the parameter, else the state name). {@code decay} says
   * whether weight decay applies to this parameter; {@code stepF} is the float step count (1 for the first).
   */
  Map<String, Value> update(Value param, Value grad, Map<String, Value> state, Value lr, Value stepF,
      boolean decay);

  /** {@code torch.optim.AdamW}: decoupled weight decay, bias correction from step, eps after the square root. */
  record AdamW(double beta1, double beta2, double eps, double weightDecay) implements Optimizer {
    @Override
    public List<String> stateNames() {
      return List.of("exp_avg", "exp_avg_sq");
    }

    @Override
    public String describe() {
      return "adamw(beta1=" + beta1 + ", beta2=" + beta2 + ", eps=" + eps + ", weight_decay=" + weightDecay + ")";
    }

    @Override
    public Map<String, Value> update(Value p, Value g, Map<String, Value> state, Value lr, Value stepF,
        boolean decay) {
      Value one = scalarLike(p, 1.0);
      Value b1 = scalarLike(p, beta1);
      Value b2 = scalarLike(p, beta2);
      Value p0 = decay && weightDecay != 0 ? mul(p, sub(one, mul(lr, scalarLike(p, weightDecay)))) : p;
      Value m = add(mul(b1, state.get("exp_avg")), mul(scalarLike(p, 1 - beta1), g));
      Value v = add(mul(b2, state.get("exp_avg_sq")), mul(scalarLike(p, 1 - beta2), mul(g, g)));
      Value bc1 = sub(one, pow(b1, stepF));
      Value bc2 = sub(one, pow(b2, stepF));
      Value denom = add(div(sqrt(v), sqrt(bc2)), scalarLike(p, eps));
      Value next = sub(p0, mul(div(lr, bc1), div(m, denom)));
      Map<String, Value> out = new LinkedHashMap<>();
      out.put("", next);
      out.put("exp_avg", m);
      out.put("exp_avg_sq", v);
      return out;
    }
  }

  /** {@code torch.optim.SGD} with momentum (dampening 0, not Nesterov) and coupled L2 weight decay. */
  record Sgd(double momentum, double weightDecay) implements Optimizer {
    @Override
    public List<String> stateNames() {
      return List.of("momentum");
    }

    @Override
    public String describe() {
      return "sgd(momentum=" + momentum + ", weight_decay=" + weightDecay + ")";
    }

    @Override
    public Map<String, Value> update(Value p, Value g, Map<String, Value> state, Value lr, Value stepF,
        boolean decay) {
      Value grad = decay && weightDecay != 0 ? add(g, mul(scalarLike(p, weightDecay), p)) : g;
      // torch starts the buffer as a copy of the first gradient; from a zero buffer, momentum*0 + g is the same.
      Value buf = add(mul(scalarLike(p, momentum), state.get("momentum")), grad);
      Map<String, Value> out = new LinkedHashMap<>();
      out.put("", sub(p, mul(lr, buf)));
      out.put("momentum", buf);
      return out;
    }
  }

  /** The zero initial value of a state tensor for {@code param}. */
  static Tensor initialState(Tensor param) {
    return Tensor.zeros(DType.FLOAT32, param.shape());
  }
}
