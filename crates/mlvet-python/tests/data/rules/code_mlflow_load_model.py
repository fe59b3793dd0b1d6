# Patterns from the MLflow model registry and flavor documentation.
import mlflow
import mlflow.pyfunc
import mlflow.sklearn

model = mlflow.pyfunc.load_model("models:/churn/Production")  # expect: code-mlflow-load-model
model = mlflow.pyfunc.load_model(model_uri=f"runs:/{run_id}/model")  # expect: code-mlflow-load-model
clf = mlflow.sklearn.load_model("models:/churn@champion")  # expect: code-mlflow-load-model
net = mlflow.pytorch.load_model("models:/resnet/3")  # expect: code-mlflow-load-model
onx = mlflow.onnx.load_model("models:/resnet-onnx/1")  # expect: code-mlflow-load-model
udf = mlflow.pyfunc.spark_udf(spark, "models:/churn/Production")  # expect: code-mlflow-load-model
mlflow.sklearn.log_model(clf, "model")
mlflow.pyfunc.save_model("out", python_model=wrapper)
