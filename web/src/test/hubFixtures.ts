// Fixtures for the hub screens, shaped like the API's answers (GET /training/options is the real field list).
import type { RunOut, TrainingOptions } from "@/lib/types";

export const OPTIONS: TrainingOptions = {
  "fields": [
    {
      "name": "method",
      "type": "choice",
      "default": "lora",
      "help": "Fine-tuning method: LoRA trains small add-on matrices and leaves the base model untouched.",
      "group": "advanced",
      "minimum": null,
      "maximum": null,
      "exclusive_minimum": false,
      "choices": [
        "lora"
      ],
      "nullable": false
    },
    {
      "name": "use_dora",
      "type": "bool",
      "default": false,
      "help": "Use DoRA, a LoRA variant that also learns each weight's size; slightly better results, slower steps.",
      "group": "advanced",
      "minimum": null,
      "maximum": null,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "use_rslora",
      "type": "bool",
      "default": false,
      "help": "Scale the adapter by alpha/sqrt(r) instead of alpha/r, which keeps high ranks stable.",
      "group": "advanced",
      "minimum": null,
      "maximum": null,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "r",
      "type": "int",
      "default": 8,
      "help": "Adapter rank: how much the adapter can learn; higher learns more but is bigger and slower.",
      "group": "basic",
      "minimum": 1,
      "maximum": 256,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "alpha",
      "type": "float",
      "default": 16,
      "help": "Adapter strength: how strongly the adapter's changes are applied (usually twice the rank).",
      "group": "basic",
      "minimum": 0,
      "maximum": 1024,
      "exclusive_minimum": true,
      "choices": null,
      "nullable": false
    },
    {
      "name": "dropout",
      "type": "float",
      "default": 0.05,
      "help": "Share of adapter inputs randomly dropped during training, to reduce overfitting.",
      "group": "advanced",
      "minimum": 0,
      "maximum": 0.5,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "target_modules",
      "type": "list",
      "default": null,
      "help": "Which layers get an adapter; empty means the base model's recommended attention layers.",
      "group": "advanced",
      "minimum": null,
      "maximum": null,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": true
    },
    {
      "name": "learning_rate",
      "type": "float",
      "default": 0.0002,
      "help": "How big each learning step is; too high makes training unstable, too low makes it slow.",
      "group": "basic",
      "minimum": 0,
      "maximum": 0.01,
      "exclusive_minimum": true,
      "choices": null,
      "nullable": false
    },
    {
      "name": "lr_scheduler",
      "type": "choice",
      "default": "cosine",
      "help": "How the learning rate changes over the run (cosine: slowly lowered to zero).",
      "group": "advanced",
      "minimum": null,
      "maximum": null,
      "exclusive_minimum": false,
      "choices": [
        "linear",
        "cosine",
        "constant",
        "constant_with_warmup"
      ],
      "nullable": false
    },
    {
      "name": "warmup_ratio",
      "type": "float",
      "default": 0.03,
      "help": "Share of the run at the start during which the learning rate ramps up from zero.",
      "group": "advanced",
      "minimum": 0,
      "maximum": 0.5,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "epochs",
      "type": "float",
      "default": 1,
      "help": "How many times training goes through the whole dataset.",
      "group": "basic",
      "minimum": 0,
      "maximum": 50,
      "exclusive_minimum": true,
      "choices": null,
      "nullable": false
    },
    {
      "name": "max_steps",
      "type": "int",
      "default": null,
      "help": "Stop after exactly this many learning steps; when set it replaces the number of epochs.",
      "group": "basic",
      "minimum": 1,
      "maximum": 100000,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": true
    },
    {
      "name": "batch_size",
      "type": "int",
      "default": 8,
      "help": "Examples per step (with packing: a budget of batch size times maximum length tokens).",
      "group": "basic",
      "minimum": 1,
      "maximum": 128,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "gradient_accumulation_steps",
      "type": "int",
      "default": 1,
      "help": "Add up this many batches before each learning step, to act like a bigger batch using less memory.",
      "group": "advanced",
      "minimum": 1,
      "maximum": 64,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "max_seq_length",
      "type": "int",
      "default": 512,
      "help": "Longest example in tokens; longer examples are cut, and memory grows with this.",
      "group": "basic",
      "minimum": 16,
      "maximum": 8192,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "packing",
      "type": "bool",
      "default": true,
      "help": "Put several short examples into one sequence (kept separate from each other) so less compute is wasted on padding.",
      "group": "advanced",
      "minimum": null,
      "maximum": null,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "seed",
      "type": "int",
      "default": 42,
      "help": "Random seed; the same seed, data and settings give the same run.",
      "group": "advanced",
      "minimum": 0,
      "maximum": 2147483647,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "precision",
      "type": "choice",
      "default": "auto",
      "help": "Number format for the model's weights: auto uses bf16 on a GPU that supports it, otherwise fp32.",
      "group": "advanced",
      "minimum": null,
      "maximum": null,
      "exclusive_minimum": false,
      "choices": [
        "auto",
        "fp32",
        "bf16",
        "fp16"
      ],
      "nullable": false
    },
    {
      "name": "eval_split",
      "type": "float",
      "default": 0.1,
      "help": "Share of the dataset held back to measure progress on examples the model never trains on.",
      "group": "basic",
      "minimum": 0,
      "maximum": 0.5,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "eval_steps",
      "type": "int",
      "default": null,
      "help": "Measure the held-back loss every this many steps; empty means about ten times per run.",
      "group": "advanced",
      "minimum": 1,
      "maximum": 100000,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": true
    },
    {
      "name": "early_stopping_patience",
      "type": "int",
      "default": 0,
      "help": "Stop when the held-back loss has not improved for this many measurements; 0 turns early stopping off.",
      "group": "basic",
      "minimum": 0,
      "maximum": 100,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "early_stopping_threshold",
      "type": "float",
      "default": 0.0,
      "help": "Smallest drop in held-back loss that counts as an improvement for early stopping.",
      "group": "advanced",
      "minimum": 0,
      "maximum": 1,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "logging_steps",
      "type": "int",
      "default": 1,
      "help": "Record the training loss every this many steps.",
      "group": "advanced",
      "minimum": 1,
      "maximum": 10000,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    },
    {
      "name": "save_steps",
      "type": "int",
      "default": null,
      "help": "Save a checkpoint every this many steps, so a stopped run can resume; empty means about five times per run.",
      "group": "advanced",
      "minimum": 1,
      "maximum": 100000,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": true
    },
    {
      "name": "max_grad_norm",
      "type": "float",
      "default": 1.0,
      "help": "Cap on the size of each update, which protects against sudden loss spikes.",
      "group": "advanced",
      "minimum": 0,
      "maximum": 100,
      "exclusive_minimum": true,
      "choices": null,
      "nullable": false
    },
    {
      "name": "weight_decay",
      "type": "float",
      "default": 0.0,
      "help": "Gently pulls adapter weights towards zero each step, a mild protection against overfitting.",
      "group": "advanced",
      "minimum": 0,
      "maximum": 1,
      "exclusive_minimum": false,
      "choices": null,
      "nullable": false
    }
  ],
  "presets": [
    {
      "key": "quick",
      "title": "Quick try",
      "summary": "A short run to check that everything works.",
      "explanation": "Trains a small adapter for at most 60 steps so you can see the loss go down and get a usable result fast. Use it for a first try with a new dataset or base model. On the toy model it takes about a minute on a CPU; on a 7B model a few minutes on a GPU.",
      "values": {
        "r": 8,
        "alpha": 16,
        "learning_rate": 0.0003,
        "epochs": 1,
        "max_steps": 60,
        "batch_size": 8,
        "max_seq_length": 512,
        "eval_split": 0.1,
        "early_stopping_patience": 0,
        "warmup_ratio": 0.03
      }
    },
    {
      "key": "balanced",
      "title": "Balanced",
      "summary": "A sensible default for a real fine-tune.",
      "explanation": "Goes through your dataset twice with a medium-size adapter and stops early if the held-back loss stops improving. Use it once a quick try looks right. It takes roughly twice as long as one pass over your data.",
      "values": {
        "r": 16,
        "alpha": 32,
        "learning_rate": 0.0002,
        "epochs": 2,
        "max_steps": null,
        "batch_size": 8,
        "max_seq_length": 1024,
        "eval_split": 0.1,
        "early_stopping_patience": 3,
        "warmup_ratio": 0.03
      }
    },
    {
      "key": "thorough",
      "title": "Thorough",
      "summary": "Longer training with a bigger adapter for the best result.",
      "explanation": "Uses a larger adapter, a gentler learning rate and three passes over longer examples, stopping early when the held-back loss stops improving. Use it for a final model when you have enough data (a few thousand examples or more). Expect about three times as long as one pass over your data.",
      "values": {
        "r": 32,
        "alpha": 64,
        "learning_rate": 0.0001,
        "epochs": 3,
        "max_steps": null,
        "batch_size": 8,
        "max_seq_length": 2048,
        "eval_split": 0.1,
        "early_stopping_patience": 5,
        "warmup_ratio": 0.05
      }
    }
  ]
};

export function makeRun(over: Partial<RunOut> = {}): RunOut {
  return {
    id: 7,
    name: "support replies on tiny",
    status: "running",
    source: "modelmate",
    training_outcome: null,
    failure_category: null,
    failure_message: null,
    mode: "guided",
    preset: "quick",
    config: { r: 8, alpha: 16, learning_rate: 0.0003, max_steps: 60, batch_size: 8, target_modules: null, packing: true },
    base_model: { id: 1, name: "Tiny toy Llama", key: "tiny" },
    parent_model_id: null,
    output_model_id: null,
    dataset: { id: 3, name: "support replies", content_hash: "ab".repeat(32), rows: 40, deleted: false },
    job: { id: 11, status: "running", progress: 0.05, progress_message: null, attempts: 1, max_attempts: 3, cancel_requested: false },
    total_steps: 60,
    loss_curve: [
      { step: 1, loss: 8.3, lr: 0.0001, grad_norm: 2.1, tokens: 900, seconds: 0.5 },
      { step: 2, loss: 8.1, lr: 0.0002, grad_norm: 2.0, tokens: 1800, seconds: 1.0 },
      { step: 3, loss: 7.9, eval_loss: 8.0, lr: 0.0003, grad_norm: 1.9, tokens: 2700, seconds: 1.5 },
    ],
    early_stopping: [],
    estimate: { steps: 60, seconds: 40, peak_memory_bytes: 300 * 2 ** 20 },
    tokens_per_second: null,
    train_tokens: null,
    peak_memory_bytes: null,
    train_seconds: null,
    final_loss: null,
    final_eval_loss: null,
    environment: {},
    error: null,
    artifacts: [],
    created_at: "2026-03-14T10:00:00Z",
    started_at: "2026-03-14T10:00:02Z",
    finished_at: null,
    ...over,
  };
}
