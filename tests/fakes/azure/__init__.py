"""Loopback fakes of the Azure REST APIs, faithful enough for the real SDK clients.

`server` is the core: an HTTPS server on 127.0.0.1 (a throw-away trustme CA) that routes
requests to the services and offers each one to `faults` first (429 with Retry-After, 503, a
stall that times the client out, a dropped connection, an answer lost after the work was done,
any refusal such as a 403 — per method, path and count). On the main host: the Microsoft Entra
token endpoint (`identity`: client secrets, the device-code flow, JWT access tokens with the
claims a client reads), Azure Resource Manager (`arm`: the subscription, resource groups and
providers, with the long-running-operation machinery in `lro`), Key Vault's management plane
(`keyvault`), storage's (`storage`), Microsoft Graph (`graph`: applications, passwords, service
principals), RBAC role assignments (`authorization`), Databricks workspaces (`databricks`) and
Machine Learning workspaces with the template deployment azure-ai-ml creates them by (`ml`).
Hosts of their own, as in Azure: each vault's secrets (`keyvault_secrets`) and the data lake
(`datalake`, path-style accounts; RBAC-checked for service principals made through Graph).
`cloud` wires them together with one tenant, subscription and service principal; `clients`
builds the real SDK clients against them with exactly the arguments each one needed.
"""
