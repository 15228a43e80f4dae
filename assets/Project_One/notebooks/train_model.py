# Databricks notebook source
# MAGIC %md
# MAGIC # Train the world's worst regression
# MAGIC
# MAGIC 1. Read the settings of this environment from the `data-lake` secret scope (backed by the
# MAGIC    environment's Key Vault), so the same code runs unchanged on the dev and the pipeline
# MAGIC    cluster.
# MAGIC 2. Mount the data lake with the service principal, read AdultCensusIncome.csv with Spark.
# MAGIC 3. Train a linear regression of fnlwgt on age and hours-per-week (it explains nothing,
# MAGIC    which is the point: the lab is about the loop, not the model).
# MAGIC 4. Log MAE and R² to MLflow and register the three model files as `worst_regression`,
# MAGIC    tagged with the environment's `state` and `created_by`.

# COMMAND ----------

# DBTITLE 1,Parameters
# Where the model files and the results go on the driver. A job (or labtui) can pass another
# folder as the notebook parameter "work_dir".
dbutils.widgets.text("work_dir", "/tmp/worst_regression", "Working folder on the driver")
work_dir = dbutils.widgets.get("work_dir")
model_name = "worst_regression"
print(f"working folder: {work_dir}")

# COMMAND ----------

# DBTITLE 1,Settings from the data-lake secret scope
scope = "data-lake"
tenant_id = dbutils.secrets.get(scope=scope, key="sp-tenant-id")
app_id = dbutils.secrets.get(scope=scope, key="sp-app-id")
app_password = dbutils.secrets.get(scope=scope, key="sp-password")
token_endpoint = dbutils.secrets.get(scope=scope, key="sp-token-endpoint")
datalake_fqdn = dbutils.secrets.get(scope=scope, key="datalake-fqdn")
subscription_id = dbutils.secrets.get(scope=scope, key="subscription-id")
resource_group = dbutils.secrets.get(scope=scope, key="resource-group")
ml_workspace_name = dbutils.secrets.get(scope=scope, key="ml-workspace-name")
alg_state = dbutils.secrets.get(scope=scope, key="alg-state")
created_by = dbutils.secrets.get(scope=scope, key="created-by")
print(f"state: {alg_state}, created by: {created_by}")

# COMMAND ----------

# DBTITLE 1,Mount the data lake
# The service principal reads the data lake through OAuth client credentials; the mount point
# stays the same in every environment, only the secrets behind it change.
mount_point = "/mnt/datalake"
configs = {
    "fs.azure.account.auth.type": "OAuth",
    "fs.azure.account.oauth.provider.type":
        "org.apache.hadoop.fs.azurebfs.oauth2.ClientCredsTokenProvider",
    "fs.azure.account.oauth2.client.id": app_id,
    "fs.azure.account.oauth2.client.secret": app_password,
    "fs.azure.account.oauth2.client.endpoint": token_endpoint,
}
# Mounts outlive a notebook run: mount afresh so a changed secret takes effect.
if any(mount.mountPoint == mount_point for mount in dbutils.fs.mounts()):
    dbutils.fs.unmount(mount_point)
dbutils.fs.mount(source=datalake_fqdn + "/", mount_point=mount_point, extra_configs=configs)
display(dbutils.fs.ls(mount_point))

# COMMAND ----------

# DBTITLE 1,Read the census data
# The file separates columns with ", ", so every column name after the first keeps a leading
# space (" fnlwgt", " hours-per-week") and those numbers are inferred as double.
df = spark.read.csv(f"{mount_point}/AdultCensusIncome.csv", header=True, inferSchema=True)
df = df.select("age", " hours-per-week", " fnlwgt").dropna()
print(f"rows: {df.count()}")
display(df.limit(5))

# COMMAND ----------

# DBTITLE 1,Train
import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

data = np.array(df.collect(), dtype=float)
X, y = data[:, :2], data[:, 2]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.33, random_state=777)

# The targets stay 2-D (one column): the model then predicts one column too, and
# y_scaler.inverse_transform(model.predict(...)) turns a prediction back into fnlwgt as is.
y_train, y_test = y_train.reshape(-1, 1), y_test.reshape(-1, 1)
x_scaler = StandardScaler().fit(X_train)
y_scaler = StandardScaler().fit(y_train)
model = LinearRegression().fit(x_scaler.transform(X_train), y_scaler.transform(y_train))

predicted = y_scaler.inverse_transform(model.predict(x_scaler.transform(X_test)))
mae = float(mean_absolute_error(y_test, predicted))
r2 = float(r2_score(y_test, predicted))
print(f"trained on {len(X_train)} rows, tested on {len(X_test)}: MAE {mae:,.1f}, R² {r2:.4f}")

# COMMAND ----------

# DBTITLE 1,Write the model files
# Pickled, as inference_code/model_class.py loads them.
import json
import os
import pickle

outputs = os.path.join(work_dir, "outputs")
os.makedirs(outputs, exist_ok=True)
for file_name, value in (("x_scaler.pkl", x_scaler), ("y_scaler.pkl", y_scaler),
                         ("model.pkl", model)):
    with open(os.path.join(outputs, file_name), "wb") as handle:
        pickle.dump(value, handle)
print(f"model files: {sorted(os.listdir(outputs))}")

# COMMAND ----------

# DBTITLE 1,Log the metrics and register the model
import mlflow

# register_model(name, folder, tags, description) -> {"name": ..., "version": ...}
# On Databricks this notebook registers the model files in the environment's Azure ML
# workspace (the lab's model registry) with azure-ai-ml and the service principal from the
# secret scope (the principal needs a role on the workspace that may register models; the
# cluster needs the azure-ai-ml and azure-identity libraries). A runner that hosts its own
# registry (labtui's local target runs this same source with a local Spark session and an
# MLflow registry) defines register_model in the notebook's namespace before the first cell,
# and then that one is used. Either way the notebook only says what to register.
if "register_model" not in globals():

    def register_model(name, folder, tags, description):
        from azure.ai.ml import MLClient
        from azure.ai.ml.constants import AssetTypes
        from azure.ai.ml.entities import Model
        from azure.identity import ClientSecretCredential

        credential = ClientSecretCredential(tenant_id, app_id, app_password)
        client = MLClient(credential, subscription_id, resource_group, ml_workspace_name)
        registered = client.models.create_or_update(
            Model(path=folder, name=name, type=AssetTypes.CUSTOM_MODEL, tags=tags,
                  description=description)
        )
        return {"name": registered.name, "version": str(registered.version)}


tags = {"state": alg_state, "created_by": created_by}
with mlflow.start_run(run_name=model_name):
    mlflow.log_params({"features": "age, hours-per-week", "label": "fnlwgt",
                       "test_size": 0.33, "random_state": 777})
    mlflow.log_metric("mae", mae)
    mlflow.log_metric("r2", r2)
    mlflow.set_tags(tags)
    registered = register_model(
        model_name, outputs, tags,
        "Linear regression of fnlwgt on scaled age and hours-per-week (the world's worst).",
    )
print(f"registered {registered['name']} version {registered['version']} with tags {tags}")

# COMMAND ----------

# DBTITLE 1,Keep the results of the test split
# The metrics and each test row's actual and predicted fnlwgt, for plots outside the notebook.
results = {
    "model": registered,
    "tags": tags,
    "metrics": {"mae": mae, "r2": r2},
    "rows": {"train": int(len(X_train)), "test": int(len(X_test))},
    "test": {"actual": [float(v) for v in y_test.ravel()],
             "predicted": [float(v) for v in predicted.ravel()]},
}
# As on Databricks, the exit value is how a job's caller gets the results (runs get-output).
print(f"results: MAE {mae:,.1f}, R² {r2:.4f} over {len(X_test)} test rows")
dbutils.notebook.exit(json.dumps(results))
