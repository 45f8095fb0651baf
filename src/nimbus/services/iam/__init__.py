"""The ``iam`` service (AWS query protocol, iam 2010-05-08): roles, managed and inline policies, recorded.

Nimbus does not evaluate IAM policies; this package records what deploy scripts write so they run
unchanged and read it back. ``engine`` holds roles, policies and attachments as metadata documents,
``documents`` checks policy JSON, ``aws_managed`` is the small built-in AWS-managed catalogue,
``names`` formats ARNs and ids, ``api`` the operations. Imports: storage, errors, arn; nothing else.
"""
