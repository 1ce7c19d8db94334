#!/usr/bin/env bash
# Runs `pulumi up` or `pulumi preview` for one stack, after checking what it needs.
# State goes to a local file backend under the project unless PULUMI_BACKEND_URL is set.
set -euo pipefail
action=${1:?usage: pulumi-stack.sh up|preview STACK}
stack=${2:?usage: pulumi-stack.sh up|preview STACK}
cd "$(dirname "$0")/.."

fail() { echo "error: $*" >&2; exit 1; }

command -v pulumi >/dev/null || fail "the Pulumi CLI is not installed: see https://www.pulumi.com/docs/install/"
command -v kubectl >/dev/null || fail "kubectl is not installed (needed to check the stack's kube context)"
[ -f "stacks/Pulumi.$stack.yaml" ] || fail "no stack file stacks/Pulumi.$stack.yaml (stacks: $(ls stacks | sed 's/Pulumi\.\(.*\)\.yaml/\1/' | tr '\n' ' '))"

context=$(sed -n 's/^  kubernetes:context: *//p' "stacks/Pulumi.$stack.yaml" | tr -d "\"'")
[ -n "$context" ] || fail "stacks/Pulumi.$stack.yaml sets no kubernetes:context"
kubectl config get-contexts "$context" >/dev/null 2>&1 \
  || fail "kube context '$context' (kubernetes:context of stack $stack) is not in your kubeconfig"

if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
fi
pulumi stack select "$stack" 2>/dev/null || pulumi stack init "$stack" --secrets-provider passphrase
pulumi "$action" --stack "$stack"
