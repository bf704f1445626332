"""Expected stderr (SPEC stands for the spec's path) and exit code of each case in broken_cases.py."""

EXPECTED = {
    "toml_syntax": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:1: (top level): invalid TOML: Invalid value (column 8)\n",
    ),
    "toml_unclosed_array": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:14: (top level): invalid TOML: Invalid value (column 2)\n",
    ),
    "toml_duplicate_key": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:2: (top level): invalid TOML: Cannot overwrite a value (column 9)\n",
    ),
    "unknown_top_key": (2, "error: SPEC: 1 problem in the spec\n  SPEC:2: sede: unknown key\n"),
    "unknown_section": (2, "error: SPEC: 1 problem in the spec\n  SPEC:20: trian: unknown key\n"),
    "missing_loss": (2, "error: SPEC: 1 problem in the spec\n  SPEC: loss: required key is missing\n"),
    "missing_dataset": (2, "error: SPEC: 1 problem in the spec\n  SPEC:2: data.dataset: required key is missing\n"),
    "seed_negative": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:1: seed: Input should be greater than or equal to 0 (got -1)\n",
    ),
    "seed_string": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:1: seed: Input should be a valid integer (got 'zero')\n",
    ),
    "batch_size_zero": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:4: data.batch_size: Input should be greater than or equal to 1 (got 0)\n",
    ),
    "test_batch_size_negative": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:5: data.test_batch_size: Input should be greater than or equal to 1 (got -1)\n",
    ),
    "epochs_zero": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:21: train.epochs: Input should be greater than or equal to 1 (got 0)\n",
    ),
    "epochs_string": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:21: train.epochs: Input should be a valid integer (got 'ten')\n",
    ),
    "log_interval_zero": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:22: train.log_interval: Input should be greater than or equal to 1 (got 0)\n",
    ),
    "device_unknown": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:23: train.device: must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' (got 'gpu')\n",
    ),
    "train_unknown_key": (2, "error: SPEC: 1 problem in the spec\n  SPEC:22: train.lr: unknown key\n"),
    "max_steps_zero": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:22: train.max_steps_per_epoch: Input should be greater than or equal to 1 (got 0)\n",
    ),
    "grad_clip_zero": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:22: train.grad_clip: Input should be greater than 0 (got 0)\n",
    ),
    "layers_empty": (
        2,
        "error: SPEC: 2 problems in the spec\n  SPEC:7: model.layers: List should have at least 1 item after validation, not 0 (got [])\n  SPEC:8: model.old_layers: unknown key\n",
    ),
    "layers_not_a_list": (
        2,
        "error: SPEC: 2 problems in the spec\n  SPEC:7: model.layers: Input should be a valid array\n  SPEC:8: model.old_layers: unknown key\n",
    ),
    "layer_without_type": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].type: required key is missing\n",
    ),
    "layer_unknown": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].type: unknown layer or activation 'rleu'; did you mean 'relu' or 'prelu'? Available: avg_pool2d, batch_norm, conv2d, dropout, elu, flatten, gelu, layer_norm, leaky_relu, linear, log_softmax, max_pool2d, mish, prelu, relu, selu, sigmoid, silu, softmax, softplus, tanh, unflatten (see: python -m registry list layer, python -m registry list activation)\n",
    ),
    "layer_is_an_optimizer": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].type: unknown layer or activation 'adam' ('adam' is an optimizer, not a layer or activation). Available: avg_pool2d, batch_norm, conv2d, dropout, elu, flatten, gelu, layer_norm, leaky_relu, linear, log_softmax, max_pool2d, mish, prelu, relu, selu, sigmoid, silu, softmax, softplus, tanh, unflatten (see: python -m registry list layer, python -m registry list activation)\n",
    ),
    "layer_unknown_param": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1].out_feature: layer 'linear' takes no parameter 'out_feature'; did you mean 'out_features'? Its parameters: bias, in_features, out_features\n",
    ),
    "layer_missing_param": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1].out_features: layer 'linear' needs parameter 'out_features'\n",
    ),
    "layer_out_features_zero": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1].out_features: Input should be greater than or equal to 1 (got 0)\n",
    ),
    "layer_out_features_string": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1].out_features: Input should be a valid integer (got '32')\n",
    ),
    "dropout_p_above_one": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].p: Input should be less than or equal to 1 (got 1.5)\n",
    ),
    "leaky_relu_negative_slope": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].negative_slope: Input should be greater than or equal to 0 (got -0.1)\n",
    ),
    "softmax_dim_out_of_range": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:12: model.layers[4]: layer 4 (log_softmax) cannot take input of shape (10,): Dimension out of range (expected to be in range of [-2, 1], but got 5)\n",
    ),
    "in_features_wrong": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1].in_features: in_features = 100 but the input here has shape (64,), so in_features must be 64 (the last dimension of the previous layer's output); remove it to have it inferred\n",
    ),
    "pool_on_flat_input": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2]: layer 2 (max_pool2d) cannot take input of shape (32,): non-empty 3D or 4D (batch mode) tensor expected for input\n",
    ),
    "huge_layer": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1]: layer 1 (linear) has 65,000,000,000,000 parameters, which brings the model to 65,000,000,000,000; at most 2,000,000,000 are allowed\n",
    ),
    "loss_unknown": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:15: loss.type: unknown loss 'nlll'; did you mean 'nll'? Available: bce, bce_with_logits, cross_entropy, huber, mse, nll, smooth_l1 (see: python -m registry list loss)\n",
    ),
    "nll_without_log_softmax": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:14: loss.type: nll expects log-probabilities, but the model ends with 'linear', which gives raw scores; end the model with 'log_softmax', or use a loss that takes raw scores (cross_entropy)\n",
    ),
    "cross_entropy_after_softmax": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:15: loss.type: cross_entropy expects raw scores, but the model ends with 'softmax', which gives probabilities: the outputs would be normalised twice; drop 'softmax' or use another loss\n",
    ),
    "softmax_then_nll": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:15: loss.type: nll expects log-probabilities, but the model ends with 'softmax', which gives probabilities; end the model with 'log_softmax', or use another loss\n",
    ),
    "cross_entropy_after_log_softmax_warns": (
        0,
        "warning: SPEC:15: loss.type: cross_entropy expects raw scores, but the model ends with 'log_softmax', which gives log-probabilities: redundant, since cross_entropy normalises itself; drop 'log_softmax' or use a loss that takes log-probabilities (nll)\n",
    ),
    "too_many_outputs_warns": (
        0,
        "warning: SPEC:12: model.layers[4]: the model outputs 12 values per sample but the dataset has 10 classes; 2 of them can never be a target\n",
    ),
    "bce_on_log_probabilities": (
        2,
        "error: SPEC: 2 problems in the spec\n  SPEC:15: loss.type: bce expects values in [0, 1], but the model ends with 'log_softmax', which gives log-probabilities; end the model with 'sigmoid', or use a loss that takes log-probabilities (nll)\n  SPEC:15: loss.type: bce needs targets shaped like the model's output, but the dataset gives one class label per sample (10 classes)\n",
    ),
    "mse_on_class_labels": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:15: loss.type: mse needs targets shaped like the model's output, but the dataset gives one class label per sample (10 classes)\n",
    ),
    "too_few_outputs": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:12: model.layers[4]: the model outputs 5 values per sample but the dataset has 10 classes; the last layer needs 10 outputs\n",
    ),
    "label_smoothing_above_one": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:16: loss.label_smoothing: Input should be less than or equal to 1 (got 2.0)\n",
    ),
    "optimizer_unknown": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:17: optimizer.type: unknown optimizer 'adamm'; did you mean 'adam' or 'adamw'? Available: adadelta, adagrad, adam, adamw, rmsprop, sgd (see: python -m registry list optimizer)\n",
    ),
    "lr_zero": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:18: optimizer.lr: Input should be greater than 0 (got 0)\n",
    ),
    "lr_negative": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:18: optimizer.lr: Input should be greater than 0 (got -0.1)\n",
    ),
    "momentum_negative": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:19: optimizer.momentum: Input should be greater than or equal to 0 (got -0.9)\n",
    ),
    "adam_beta_out_of_range": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:18: optimizer.betas[0]: Input should be less than 1 (got 1.5)\n",
    ),
    "nesterov_without_momentum": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:16: optimizer: sgd: Nesterov momentum requires a momentum and zero dampening\n",
    ),
    "dataset_unknown": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:3: data.dataset: unknown dataset 'mnistt'; did you mean 'mnist'? Available: digits, fashion_mnist, mnist (see: python -m registry list dataset)\n",
    ),
    "dataset_unknown_param": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:4: data.rooot: dataset 'digits' takes no parameter 'rooot'. Its parameters: split_seed, test_fraction; beside them [data] takes: augment, batch_size, dataset, precompute, test_batch_size, transforms\n",
    ),
    "dataset_param_type": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:4: data.test_fraction: Input should be a valid number (got 'a fifth')\n",
    ),
    "transform_unknown": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:5: data.transforms[0].type: unknown transform 'to_tensr'; did you mean 'to_tensor'? Available: center_crop, normalize, pad, random_crop, random_horizontal_flip, resize, to_tensor (see: python -m registry list transform)\n",
    ),
    "normalize_three_means": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:5: data.transforms[1]: normalize cannot take inputs of shape (1, 8, 8): mean has 3 values but the input has 1 channel; give 1 value\n",
    ),
    "normalize_std_zero": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:5: data.transforms[1].std[0]: Input should be greater than 0 (got 0.0)\n",
    ),
    "normalize_missing_std": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:5: data.transforms[1].std: transform 'normalize' needs parameter 'std'\n",
    ),
    "target_key": (2, "error: SPEC: 1 problem in the spec\n  SPEC:2: _target_: unknown key\n"),
    "dotted_import_path": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].type: unknown layer or activation 'torch.nn.ReLU' (a spec names registered components only, never an import path); did you mean 'relu' or 'prelu' or 'leaky_relu'? Available: avg_pool2d, batch_norm, conv2d, dropout, elu, flatten, gelu, layer_norm, leaky_relu, linear, log_softmax, max_pool2d, mish, prelu, relu, selu, sigmoid, silu, softmax, softplus, tanh, unflatten (see: python -m registry list layer, python -m registry list activation)\n",
    ),
    "class_path_key": (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].class_path: activation 'relu' takes no parameter 'class_path'. Its parameters: (none)\n",
    ),
    "import_key": (2, "error: SPEC: 1 problem in the spec\n  SPEC:2: import: unknown key\n"),
    "include_key": (2, "error: SPEC: 1 problem in the spec\n  SPEC:2: include: unknown key\n"),
    "two_mistakes_at_once": (
        2,
        "error: SPEC: 2 problems in the spec\n  SPEC:18: optimizer.lr: Input should be greater than 0 (got -1)\n  SPEC:19: optimizer.momentun: optimizer 'sgd' takes no parameter 'momentun'; did you mean 'momentum'? Its parameters: dampening, lr, momentum, nesterov, weight_decay\n",
    ),
}
