"""Serves the production policy pack: `pulumi preview -s prod --policy-pack policy`.

The only module that builds the PolicyPack: its constructor starts the gRPC server the
Pulumi CLI talks to and blocks until the CLI is done. The policies live in flux_policies.py.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from flux_policies import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
