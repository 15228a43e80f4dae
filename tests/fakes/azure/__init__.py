"""Loopback fakes of the Azure REST APIs, faithful enough for the real SDK clients.

One HTTPS server (a trustme CA) serves every service on 127.0.0.1: the Microsoft Entra token
endpoint (`identity`), Azure Resource Manager (`arm`: resource groups, providers, the
long-running-operation machinery in `lro`), Key Vault's management plane (`keyvault`) and data
plane (`keyvault_secrets`), and storage (`storage`, `datalake`). `faults` scripts 429s, 503s,
timeouts and dropped connections per method, path and count.
"""
