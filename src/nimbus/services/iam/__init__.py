"""The ``iam`` service (AWS query protocol, iam 2010-05-08): roles, users and their access keys, groups,
managed and inline policies.

Nimbus does not evaluate IAM policies; this package records what deploy scripts write so they run
unchanged and read it back. Users' access keys are real: the credential store accepts them. ``engine``
holds roles, users, policies and attachments as metadata documents, ``groups`` groups and memberships,
``holders`` what roles, users and groups share, ``paging`` Marker/MaxItems, ``documents`` checks policy
JSON, ``aws_managed`` is the small built-in AWS-managed catalogue, ``names`` formats ARNs and ids, ``api``
the operations. Imports: storage, errors, arn, credentials; nothing else.
"""
