//! mlvet's curated list of machine-learning packages (PyPI names, PEP 503-normalised).
//!
//! Findings about these packages carry `PackageRef.ml = true`, so reports can single out the ML
//! stack. The list favours packages that load models or data from outside (deserialisers,
//! hub clients, serving runtimes), since that is where ML supply-chain vulnerabilities cluster.
//! `docs/ml-packages.md` is generated from this table by a test (`MLVET_BLESS=1` rewrites it).

/// One curated package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MlPackage {
    /// PEP 503-normalised PyPI name.
    pub name: &'static str,
    pub category: Category,
    /// Why it is on the list, in one line.
    pub note: &'static str,
}

/// What part of an ML stack a package is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Training/inference frameworks and their model formats.
    Framework,
    /// Inference runtimes, compilers and serving systems.
    Serving,
    /// LLM tooling: model hubs, tokenizers, fine-tuning, agents, UIs for models.
    Llm,
    /// Experiment tracking, pipelines and MLOps platforms.
    Mlops,
    /// Data and classic ML libraries that read untrusted datasets or serialised estimators.
    Data,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Framework => "framework",
            Category::Serving => "serving",
            Category::Llm => "llm",
            Category::Mlops => "mlops",
            Category::Data => "data",
        }
    }
}

macro_rules! ml {
    ($($name:literal, $cat:ident, $note:literal;)*) => {
        &[$(MlPackage { name: $name, category: Category::$cat, note: $note },)*]
    };
}

/// Sorted by name (a test keeps it so, which makes lookups a binary search).
static ML_PACKAGES: &[MlPackage] = ml![
    "accelerate", Llm, "Hugging Face multi-device training/inference launcher; loads checkpoints.";
    "autogluon", Data, "AutoML toolkit; persists fitted predictors with pickle.";
    "bentoml", Serving, "Model packaging and serving; stores models as pickled artefacts.";
    "bitsandbytes", Framework, "Quantisation kernels for PyTorch models (native CUDA code).";
    "catboost", Data, "Gradient boosting; loads model files in its own binary format.";
    "chromadb", Llm, "Vector database for embeddings, common in RAG stacks.";
    "clearml", Mlops, "Experiment tracking and pipelines; stores and fetches artefacts.";
    "ctransformers", Serving, "Python bindings for GGML transformer inference.";
    "dask", Data, "Parallel dataframes/arrays; deserialises task graphs with pickle.";
    "datasets", Llm, "Hugging Face dataset loader; can run dataset scripts from the hub.";
    "deepspeed", Framework, "Distributed training library; loads checkpoints with torch.load.";
    "diffusers", Llm, "Hugging Face diffusion pipelines; downloads and loads model weights.";
    "evaluate", Llm, "Hugging Face metrics; loads metric scripts from the hub.";
    "fastai", Framework, "High-level PyTorch training; learners are pickled.";
    "flax", Framework, "Neural network library for JAX; checkpoint (de)serialisation.";
    "gguf", Serving, "Reader/writer for the GGUF model format.";
    "gradio", Llm, "Web UIs for models; serves files and runs a web server.";
    "h2o", Data, "Distributed ML platform client; loads MOJO/POJO models.";
    "haystack-ai", Llm, "LLM/RAG pipeline framework.";
    "huggingface-hub", Llm, "Hub client: downloads models, datasets and code from repositories.";
    "jax", Framework, "Array computing and autodiff framework.";
    "jaxlib", Framework, "Native backend (XLA) for JAX.";
    "joblib", Data, "Persists models (scikit-learn) with pickle; loading executes code.";
    "keras", Framework, "Deep learning API; loads .keras/.h5 models that may carry Lambda layers.";
    "kfp", Mlops, "Kubeflow Pipelines SDK.";
    "langchain", Llm, "LLM application framework; loaders and tool execution.";
    "langchain-community", Llm, "LangChain third-party integrations (loaders, tools, chains).";
    "langchain-core", Llm, "LangChain core abstractions, including (de)serialisation.";
    "langchain-experimental", Llm, "LangChain experimental chains, some of which execute code.";
    "lightgbm", Data, "Gradient boosting; model files and pickled boosters.";
    "litellm", Llm, "Proxy and SDK in front of many LLM APIs; runs a server.";
    "llama-cpp-python", Serving, "Bindings for llama.cpp; parses GGUF files in native code.";
    "llama-index", Llm, "Data framework for LLM applications (RAG).";
    "llama-index-core", Llm, "LlamaIndex core; loaders, query engines and persistence.";
    "mlflow", Mlops, "Experiment tracking and model registry; loads pickled/cloudpickled models.";
    "mxnet", Framework, "Apache MXNet deep learning framework (retired; no fixes coming).";
    "nemo-toolkit", Framework, "NVIDIA NeMo conversational AI toolkit; loads .nemo archives.";
    "numpy", Data, "Array library; `np.load(allow_pickle=True)` unpickles.";
    "onnx", Framework, "ONNX model format library; parses model protobufs and external data.";
    "onnxruntime", Serving, "ONNX inference runtime (native code parsing model files).";
    "onnxruntime-gpu", Serving, "GPU build of ONNX Runtime.";
    "openai", Llm, "OpenAI API client.";
    "optimum", Serving, "Hugging Face hardware-optimised inference/export (ONNX, OpenVINO...).";
    "paddlepaddle", Framework, "PaddlePaddle deep learning framework.";
    "paddlepaddle-gpu", Framework, "GPU build of PaddlePaddle.";
    "pandas", Data, "Dataframes; `read_pickle` unpickles, many readers parse untrusted files.";
    "peft", Llm, "Parameter-efficient fine-tuning (LoRA adapters loaded from the hub).";
    "pyarrow", Data, "Arrow/Parquet IO; deserialises IPC and Parquet files.";
    "pytorch-lightning", Framework, "PyTorch training framework; checkpoints via torch.load.";
    "ray", Serving, "Distributed compute and serving (Ray Serve); runs a cluster dashboard/API.";
    "safetensors", Llm, "Safe tensor serialisation format; the parser is the trust boundary.";
    "scikit-learn", Data, "Classic ML; estimators are persisted with pickle/joblib.";
    "scipy", Data, "Scientific computing; `loadmat` and other file readers.";
    "sentence-transformers", Llm, "Embedding models; downloads and loads models from the hub.";
    "sentencepiece", Llm, "Tokenizer with a native model-file parser.";
    "skops", Data, "Safer scikit-learn persistence format; its loader is the trust boundary.";
    "spacy", Llm, "NLP library; loads pipeline packages.";
    "streamlit", Llm, "App framework widely used for model demos; runs a web server.";
    "tensorboard", Mlops, "Training visualisation server.";
    "tensorflow", Framework, "TensorFlow; hundreds of advisories, SavedModel/HDF5 loading.";
    "tensorflow-cpu", Framework, "CPU build of TensorFlow (advisories published separately).";
    "tensorflow-gpu", Framework, "GPU build of TensorFlow (advisories published separately).";
    "tensorflow-intel", Framework, "Intel build of TensorFlow.";
    "tensorflow-macos", Framework, "macOS build of TensorFlow.";
    "tensorrt", Serving, "NVIDIA TensorRT inference optimiser/runtime.";
    "text-generation", Serving, "Client for Hugging Face text-generation-inference servers.";
    "tf-keras", Framework, "Keras 2 packaged for TensorFlow 2.16+.";
    "tf-nightly", Framework, "Nightly TensorFlow builds.";
    "tiktoken", Llm, "BPE tokenizer; downloads encoding files.";
    "timm", Framework, "PyTorch image models; loads pretrained weights.";
    "tokenizers", Llm, "Hugging Face fast tokenizers (Rust core) parsing tokenizer files.";
    "torch", Framework, "PyTorch; `torch.load` unpickles unless weights_only.";
    "torchaudio", Framework, "PyTorch audio library.";
    "torchserve", Serving, "PyTorch model server; loads .mar archives, management API.";
    "torchvision", Framework, "PyTorch vision library; loads pretrained weights.";
    "transformers", Llm, "Hugging Face models; loads weights and may run remote code.";
    "triton", Serving, "OpenAI Triton GPU kernel compiler (a torch dependency).";
    "tritonclient", Serving, "Client for NVIDIA Triton Inference Server.";
    "trl", Llm, "Transformer reinforcement learning / fine-tuning.";
    "vllm", Serving, "LLM inference server; loads weights and exposes an HTTP API.";
    "wandb", Mlops, "Weights & Biases tracking client; uploads and downloads artefacts.";
    "xformers", Framework, "Optimised transformer kernels for PyTorch.";
    "xgboost", Data, "Gradient boosting; model files and pickled boosters.";
];

/// Whether `normalized_pypi_name` (PEP 503-normalised) is on the curated list.
pub fn is_ml_package(normalized_pypi_name: &str) -> bool {
    ML_PACKAGES
        .binary_search_by(|p| p.name.cmp(normalized_pypi_name))
        .is_ok()
}

/// The curated list, sorted by name.
pub fn ml_packages() -> &'static [MlPackage] {
    ML_PACKAGES
}

/// Renders `docs/ml-packages.md`.
pub fn render_markdown() -> String {
    let mut out = String::from(
        "<!-- Generated from crates/mlvet-osv/src/ml.rs by `cargo test -p mlvet-osv --test ml_doc`; \
         run with MLVET_BLESS=1 to regenerate. Do not edit by hand. -->\n\n# ML packages\n\n\
         Dependency findings about these PyPI packages are marked `ml: true`. The list favours \
         packages that load models, data or code from outside, where ML supply-chain \
         vulnerabilities cluster. Names are PEP 503-normalised.\n\n\
         | package | category | why |\n|---|---|---|\n",
    );
    for p in ML_PACKAGES {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            p.name,
            p.category.as_str(),
            p.note.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize_package_name;

    #[test]
    fn list_is_sorted_unique_and_normalised() {
        for pair in ML_PACKAGES.windows(2) {
            if let [a, b] = pair {
                assert!(a.name < b.name, "{} before {}", a.name, b.name);
            }
        }
        for p in ML_PACKAGES {
            assert_eq!(normalize_package_name("PyPI", p.name), p.name);
            assert!(!p.note.is_empty());
        }
    }

    #[test]
    fn lookups() {
        assert!(is_ml_package("torch"));
        assert!(is_ml_package("huggingface-hub"));
        assert!(!is_ml_package("huggingface_hub"), "callers normalise first");
        assert!(!is_ml_package("requests"));
    }
}
