"""The :class:`~deletion_sdk.DeletionSDK` facade, one module per concept.

Each module holds one class of facade operations built on :class:`~deletion_sdk._facade.base.FacadeBase`
(which owns the deployment's context, ledger and subject key); ``DeletionSDK`` combines them and adds the
lifecycle (``open``, ``init``, ``close``). Callers only ever see ``DeletionSDK``.

=============  =============================================================
``intake``     deletion requests: submit, import, review, deadlines
``lineage``    datasets and forget sets
``models``     training, registering and deploying model versions
``trust``      signing keys, the audit log, certificates
``jobs``       batch jobs and the privacy officer's report
=============  =============================================================
"""
