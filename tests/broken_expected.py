"""Expected stderr (SPEC stands for the spec's path) and exit code of each case in broken_cases.py."""

EXPECTED = {
    'toml_syntax': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:1: (top level): invalid TOML: Invalid value (column 8)\n',
    ),
    'toml_unclosed_array': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:14: (top level): invalid TOML: Invalid value (column 2)\n',
    ),
    'toml_duplicate_key': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:2: (top level): duplicate key 'seed': it is already set above\n",
    ),
    'unknown_top_key': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:2: sede: unknown key 'sede'; did you mean 'seed'? The top level takes: data, loss, metrics, model, name, optimizer, requires, scheduler, seed, sweep, train\n",
    ),
    'unknown_section': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:20: trian: unknown table [trian]; did you mean [train]? The top level takes: data, loss, metrics, model, name, optimizer, requires, scheduler, seed, sweep, train\n',
    ),
    'missing_loss': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC: loss: required key is missing (the loss: { type = NAME, ... })\n',
    ),
    'missing_dataset': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:2: data.dataset: required key is missing (a registered dataset: python -m registry list datasets)\n',
    ),
    'seed_negative': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:1: seed: must be >= 0 (got -1)\n',
    ),
    'seed_string': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:1: seed: must be an integer (got 'zero')\n",
    ),
    'batch_size_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:4: data.batch_size: must be >= 1 (got 0)\n',
    ),
    'test_batch_size_negative': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:5: data.test_batch_size: must be >= 1 (got -1)\n',
    ),
    'epochs_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:21: train.epochs: must be >= 1 (got 0)\n',
    ),
    'epochs_string': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:21: train.epochs: must be an integer (got 'ten')\n",
    ),
    'log_interval_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:22: train.log_interval: must be >= 1 (got 0)\n',
    ),
    'device_unknown': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:23: train.device: must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' (got 'gpu')\n",
    ),
    'train_unknown_key': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:22: train.lr: unknown key 'lr'. [train] takes: accumulate, backend, checkpoint_every, device, dist_timeout, early_stopping, epochs, grad_clip, keep_checkpoints, log_interval, max_steps_per_epoch, monitor, param_groups, precision, tensorboard, threads\n",
    ),
    'max_steps_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:22: train.max_steps_per_epoch: must be >= 1 (got 0)\n',
    ),
    'grad_clip_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:22: train.grad_clip: must be > 0.0 (got 0)\n',
    ),
    'layers_empty': (
        2,
        "error: SPEC: 2 problems in the spec\n  SPEC:7: model.layers: must have at least 1 item (got [])\n  SPEC:8: model.old_layers: unknown key 'old_layers'; did you mean 'layers'? [model] takes: blocks, init, layers, type (and, with type = NAME, that model's parameters)\n",
    ),
    'layers_not_a_list': (
        2,
        "error: SPEC: 2 problems in the spec\n  SPEC:7: model.layers: must be an array (got 'linear')\n  SPEC:8: model.old_layers: unknown key 'old_layers'; did you mean 'layers'? [model] takes: blocks, init, layers, type (and, with type = NAME, that model's parameters)\n",
    ),
    'layer_without_type': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].type: required key is missing: type = NAME, a registered layer or activation (see: python -m registry list layers, python -m registry list activations)\n',
    ),
    'layer_unknown': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].type: unknown layer or activation 'rleu'; did you mean 'relu' or 'rrelu' or 'relu6'? (see: python -m registry list layers, python -m registry list activations)\n",
    ),
    'layer_is_an_optimizer': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].type: unknown layer or activation 'adam' ('adam' is an optimizer, not a layer or activation). (see: python -m registry list layers, python -m registry list activations)\n",
    ),
    'layer_unknown_param': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1].out_feature: layer 'linear' takes no parameter 'out_feature'; did you mean 'out_features'? Its parameters: bias, in_features, out_features\n",
    ),
    'layer_missing_param': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1].out_features: layer 'linear' needs parameter 'out_features' (number of outputs)\n",
    ),
    'layer_out_features_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1].out_features: must be >= 1 (got 0)\n',
    ),
    'layer_out_features_string': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1].out_features: must be an integer (got '32')\n",
    ),
    'dropout_p_above_one': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].p: must be <= 1.0 (got 1.5)\n',
    ),
    'leaky_relu_negative_slope': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].negative_slope: must be >= 0.0 (got -0.1)\n',
    ),
    'softmax_dim_out_of_range': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:12: model.layers[4]: log_softmax cannot take input of shape (10,): Dimension out of range (expected to be in range of [-2, 1], but got 5)\n',
    ),
    'in_features_wrong': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1].in_features: in_features = 100 but the input here has shape (64,), so in_features must be 64 (the last dimension of the previous layer's output); remove it to have it inferred\n",
    ),
    'pool_on_flat_input': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2]: max_pool2d cannot take input of shape (32,): non-empty 3D or 4D (batch mode) tensor expected for input\n',
    ),
    'huge_layer': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1]: linear has 65,000,000,000,000 parameters, which brings the model to 65,000,000,000,000; at most 2,000,000,000 are allowed\n',
    ),
    'loss_unknown': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:15: loss.type: unknown loss 'nlll'; did you mean 'nll'? Available: bce, bce_with_logits, cross_entropy, huber, l1, mse, multi_margin, multilabel_soft_margin, nll, poisson_nll, smooth_l1 (see: python -m registry list losses)\n",
    ),
    'nll_without_log_softmax': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:14: loss.type: nll expects log-probabilities, but the model ends with 'linear', which gives raw scores; end the model with 'log_softmax', or use a loss that takes raw scores (cross_entropy, multi_margin)\n",
    ),
    'cross_entropy_after_softmax': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:15: loss.type: cross_entropy expects raw scores, but the model ends with 'softmax', which gives probabilities: the outputs would be normalised twice; drop 'softmax' or use another loss\n",
    ),
    'softmax_then_nll': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:15: loss.type: nll expects log-probabilities, but the model ends with 'softmax', which gives probabilities; end the model with 'log_softmax', or use another loss\n",
    ),
    'cross_entropy_after_log_softmax_warns': (
        0,
        "warning: SPEC:15: loss.type: cross_entropy expects raw scores, but the model ends with 'log_softmax', which gives log-probabilities: redundant, since cross_entropy normalises itself; drop 'log_softmax' or use a loss that takes log-probabilities (nll)\n",
    ),
    'too_many_outputs_warns': (
        0,
        'warning: SPEC:12: model.layers[4]: the model outputs 12 values per sample but the dataset has 10 classes; 2 of them can never be a target\n',
    ),
    'bce_on_log_probabilities': (
        2,
        "error: SPEC: 2 problems in the spec\n  SPEC:15: loss.type: bce expects values in [0, 1], but the model ends with 'log_softmax', which gives log-probabilities; end the model with 'hardsigmoid' or 'sigmoid', or use a loss that takes log-probabilities (nll)\n  SPEC:15: loss.type: bce needs targets shaped like the model's output (10,), but the dataset gives one class label per sample (10 classes); for it to fit: [data] target_encoding = 'one_hot' with 10 outputs; or use a loss that takes class indices\n",
    ),
    'mse_on_class_labels': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:15: loss.type: mse needs targets shaped like the model's output (10,), but the dataset gives one class label per sample (10 classes); for it to fit: [data] target_encoding = 'one_hot' with 10 outputs; or use a loss that takes class indices\n",
    ),
    'too_few_outputs': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:12: model.layers[4]: the model outputs 5 values per sample but the dataset has 10 classes; the last layer needs 10 outputs\n',
    ),
    'label_smoothing_above_one': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:16: loss.label_smoothing: must be <= 1.0 (got 2.0)\n',
    ),
    'optimizer_unknown': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:17: optimizer.type: unknown optimizer 'adamm'; did you mean 'adam' or 'adamw'? Available: adadelta, adagrad, adam, adamw, rmsprop, sgd (see: python -m registry list optimizers)\n",
    ),
    'lr_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:18: optimizer.lr: must be > 0.0 (got 0)\n',
    ),
    'lr_negative': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:18: optimizer.lr: must be > 0.0 (got -0.1)\n',
    ),
    'momentum_negative': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:19: optimizer.momentum: must be >= 0.0 (got -0.9)\n',
    ),
    'adam_beta_out_of_range': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:18: optimizer.betas[0]: must be < 1.0 (got 1.5)\n',
    ),
    'nesterov_without_momentum': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:16: optimizer: optimizer 'sgd' refused its parameters: Nesterov momentum requires a momentum and zero dampening\n",
    ),
    'dataset_unknown': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:3: data.dataset: unknown dataset 'mnistt'; did you mean 'mnist'? Available: arrays, breast_cancer, diabetes, digits, fashion_mnist, image_folder, iris, linnerud, mnist, table, wine (see: python -m registry list datasets)\n",
    ),
    'dataset_unknown_param': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:4: data.rooot: dataset 'digits' takes no parameter 'rooot'. Its parameters: split_seed, test_fraction; beside them [data] takes: augment, batch_size, precompute, target_encoding, test_batch_size, transforms\n",
    ),
    'dataset_param_type': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:4: data.test_fraction: must be a number (got 'a fifth')\n",
    ),
    'transform_unknown': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:5: data.transforms[0].type: unknown transform 'to_tensr'; did you mean 'to_tensor'? Available: center_crop, normalize, pad, random_crop, random_horizontal_flip, resize, to_tensor (see: python -m registry list transforms)\n",
    ),
    'normalize_three_means': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:5: data.transforms[1]: normalize cannot take inputs of shape (1, 8, 8): mean has 3 values but the input has 1 channel; give 1 value\n',
    ),
    'normalize_std_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:5: data.transforms[1].std[0]: must be > 0.0 (got 0.0)\n',
    ),
    'normalize_missing_std': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:5: data.transforms[1].std: transform 'normalize' needs parameter 'std' (per-channel std, > 0)\n",
    ),
    'target_key': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:2: _target_: unknown key '_target_'. The top level takes: data, loss, metrics, model, name, optimizer, requires, scheduler, seed, sweep, train\n",
    ),
    'dotted_import_path': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].type: unknown layer or activation 'torch.nn.ReLU' (a spec names registered components only, never an import path); did you mean 'relu' or 'relu6' or 'rrelu'? (see: python -m registry list layers, python -m registry list activations)\n",
    ),
    'class_path_key': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].class_path: activation 'relu' takes no parameter 'class_path'. Its parameters: (none)\n",
    ),
    'import_key': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:2: import: unknown key 'import'. The top level takes: data, loss, metrics, model, name, optimizer, requires, scheduler, seed, sweep, train\n",
    ),
    'include_key': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:2: include: unknown key 'include'. The top level takes: data, loss, metrics, model, name, optimizer, requires, scheduler, seed, sweep, train\n",
    ),
    'two_mistakes_at_once': (
        2,
        "error: SPEC: 2 problems in the spec\n  SPEC:18: optimizer.lr: must be > 0.0 (got -1)\n  SPEC:19: optimizer.momentun: optimizer 'sgd' takes no parameter 'momentun'; did you mean 'momentum'? Its parameters: dampening, lr, momentum, nesterov, weight_decay\n",
    ),
    'output_does_not_fit_targets': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:11: model.layers[3]: the model outputs shape (1, 8, 10) per sample, but nll with one class label per sample needs one score per class: shape (10,); flatten before the last linear layer, or pool the other dimensions away\n',
    ),
    'class_weight_wrong_length': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:16: loss.weight: has 3 values, but the model's output has 10 per sample: give one for each (the dataset's one class index per sample, 10 classes)\n",
    ),
    'seed_beyond_64_bits': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:1: seed: 18446744073709551616 does not fit in 64 bits: TOML integers are between -2^63 and 2^63 - 1\n',
    ),
    'lr_beyond_float32': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:18: optimizer.lr: 1e+300 is beyond what torch's float32 holds (at most 3.403e+38 in size)\n",
    ),
    'width_beyond_64_bits': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers[1].out_features: 1180591620717411303424 does not fit in 64 bits: TOML integers are between -2^63 and 2^63 - 1\n',
    ),
    'kernel_size_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:8: model.layers[0].kernel_size: must be int >= 1 | tuple[int >= 1, int >= 1] (got 0)\n',
    ),
    'random_transform_in_transforms': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:5: data.transforms[1].type: random_crop is random (two calls on the same batch differ); list it in data.augment, which applies random transforms to training batches only, drawn batch by batch\n',
    ),
    'resize_size_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:5: data.transforms[1].size: must be int >= 1 | tuple[int >= 1, int >= 1] (got 0)\n',
    ),
    'betas_one_value': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:18: optimizer.betas: must be tuple[float in [0, 1), float in [0, 1)] (got [0.9])\n',
    ),
    'reduction_misspelt': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:16: loss.reduction: must be 'mean' or 'sum' (got 'meen'); did you mean 'mean'?\n",
    ),
    'data_key_misspelt': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:4: data.batchsize: dataset 'digits' takes no parameter 'batchsize'; did you mean 'batch_size'? Its parameters: split_seed, test_fraction; beside them [data] takes: augment, batch_size, precompute, target_encoding, test_batch_size, transforms\n",
    ),
    'train_is_an_array_of_tables': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:20: train: must be a table (got [{ epochs = 1, log_interval = 20, device = 'cpu' }])\n",
    ),
    'name_is_a_path': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:2: name: must be a label for the run, also the start of its directory's name: letters, digits, _ . - (not starting with a dot), at most 64 characters (got '../../x')\n",
    ),
    'requires_a_url': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:3: requires.plugins[0]: 'evil' is given with a URL or a path; [requires] takes distribution names and versions only (such as 'registry-example-plugin>=0.1'): install from elsewhere yourself, then name it here\n",
    ),
    'nested_typo_deep': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].layers[0].layers[0].out_feature: layer 'linear' takes no parameter 'out_feature'; did you mean 'out_features'? Its parameters: bias, in_features, out_features\n",
    ),
    'unknown_block': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].block: unknown block 'res'. Blocks defined under [model.blocks]: none\n",
    ),
    'block_uses_itself': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:19: model.blocks.b.layers[0].block: block 'a' uses itself (a -> b -> a); a block cannot contain itself\n",
    ),
    'block_use_with_parameters': (
        2,
        "error: SPEC: 2 problems in the spec\n  SPEC:10: model.layers[2].block: unknown block 'act'. Blocks defined under [model.blocks]: none\n  SPEC:10: model.layers[2].p: a block use takes block = NAME and repeat = N only (got 'p'); give the block's layers their parameters where it is defined\n",
    ),
    'model_type_and_layers': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:9: model.layers: use either layers or type = 'mlp', not both: a model is a whole architecture\n",
    ),
    'residual_cannot_project': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2]: layer 'residual' refused its parameters: its layers map (32,) to (8,); with projection = 'none' they must keep the shape\n",
    ),
    'parallel_shapes_differ': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2]: layer 'parallel' refused its parameters: merge = 'sum' needs every branch to give the same shape; they give (8,), (32,)\n",
    ),
    'repeat_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].repeat: must be an integer from 1 to 1000 (got 0)\n',
    ),
    'model_without_layers_or_type': (
        2,
        "error: SPEC: 2 problems in the spec\n  SPEC:6: model: needs layers = [...] or type = NAME (a registered model: python -m registry list models)\n  SPEC:7: model.old: unknown key 'old'. [model] takes: blocks, init, layers, type (and, with type = NAME, that model's parameters)\n",
    ),
    'stride_pair_with_a_zero': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:8: model.layers[0].stride: must be int >= 1 | tuple[int >= 1, int >= 1] (got [0, 1])\n',
    ),
    'dataset_not_a_string': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:3: data.dataset: must be a string (got 3)\n',
    ),
    'layer_type_empty': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:10: model.layers[2].type: must not be empty: name a registered layer or activation\n',
    ),
    'container_and_child_both_wrong': (
        2,
        "error: SPEC: 2 problems in the spec\n  SPEC:10: model.layers[2].layers[0].inplace: activation 'relu' takes no parameter 'inplace'. Its parameters: (none)\n  SPEC:10: model.layers[2].projektion: layer 'residual' takes no parameter 'projektion'; did you mean 'projection'? Its parameters: layers, projection\n",
    ),
    'one_hot_for_a_loss_of_class_indices': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:16: loss.type: nll takes class indices, not one-hot targets; drop [data] target_encoding = 'one_hot'\n",
    ),
    'metric_of_another_task': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:2: metrics[0].type: metric 'r2' measures regression tasks, but this run's task is multiclass, 10 classes; metrics for it: accuracy, auroc, f1, precision, recall, top_k_accuracy\n",
    ),
    'metric_refuses_its_parameters': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:2: metrics[0].k: metric 'top_k_accuracy': k = 20, but there are only 10 classes\n",
    ),
    'best_metric_not_computed': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:22: train.monitor: 'f1' is not a value this run computes. It may be: auto, loss, accuracy (a metric is computed when metrics lists it)\n",
    ),
    'model_without_parameters': (
        2,
        "error: SPEC: 1 problem in the spec\n  SPEC:6: model: the model has no parameters for optimizer 'sgd' to train\n",
    ),
    'non_ascii_key': (
        2,
        'error: SPEC: 1 problem in the spec\n  SPEC:19: optimizer."mömentum": optimizer \'sgd\' takes no parameter \'mömentum\'; did you mean \'momentum\'? Its parameters: dampening, lr, momentum, nesterov, weight_decay\n',
    ),
    'shape_and_parameter_faults': (
        2,
        'error: SPEC: 2 problems in the spec\n  SPEC:12: model.layers[4]: max_pool2d cannot take input of shape (10,): non-empty 3D or 4D (batch mode) tensor expected for input\n  SPEC:18: optimizer.lr: must be > 0.0 (got -1)\n',
    ),
}
