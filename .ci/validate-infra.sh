#!/usr/bin/env bash
# Validates infra/ offline with the Bicep CLI from the NuGet feed (needs the .NET SDK and Node.js):
#   build of infra/main.bicep, build-params of every .bicepparam, lint of every .bicep file,
#   format check of every .bicep/.bicepparam file, main.parameters.json against main.bicep, and, on the compiled
#   main.json, no Flex Consumption function app sets a site property or app setting Flex Consumption rejects
#   (.ci/flex-site-check.mjs, which first proves on planted copies that it catches each kind).
# Any diagnostic (warnings included: Bicep reports type errors as warnings and exits 0) fails the run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cli_project="tools/bicep/bicep-cli.csproj"
packages="$root/.tools/nuget"
package_id="azure.bicep.commandline.linux-x64"

version="$(sed -n 's/.*Include="Azure\.Bicep\.CommandLine\.linux-x64" Version="\[\([0-9.]*\)\]".*/\1/p' "$cli_project")"
if [[ -z "$version" ]]; then
  echo "validate-infra: cannot read the Bicep CLI version from $cli_project" >&2
  exit 1
fi
if ! command -v node >/dev/null 2>&1; then
  echo "validate-infra: Node.js is required (the Flex Consumption site check reads the compiled template with it)" >&2
  exit 1
fi
if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "validate-infra: the Bicep CLI package used here is linux-x64; this machine is $(uname -s)-$(uname -m)" >&2
  exit 1
fi

bicep="$packages/$package_id/$version/tools/bicep"
if [[ ! -f "$bicep" ]]; then
  echo "validate-infra: restoring Bicep CLI $version into .tools/nuget"
  dotnet restore "$cli_project" --packages "$packages" --nologo --verbosity quiet
fi
if [[ ! -f "$bicep" ]]; then
  echo "validate-infra: restore finished but $bicep is missing" >&2
  exit 1
fi
[[ -x "$bicep" ]] || chmod +x "$bicep"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

failures=0
checks=0

# check LABEL COMMAND...: runs COMMAND; it passes only if it exits 0 and prints nothing on stderr
# (stdout is discarded: `build --stdout` prints the template there).
check() {
  local label="$1"
  shift
  checks=$((checks + 1))
  local log="$tmp/check.log"
  if "$@" 2>"$log" >/dev/null && [[ ! -s "$log" ]]; then
    echo "ok    $label"
  else
    echo "FAIL  $label"
    sed 's/^/      /' "$log"
    failures=$((failures + 1))
  fi
}

# format_check FILE: formats a copy and fails on any difference from the file as committed.
format_check() {
  local file="$1"
  local formatted
  formatted="$tmp/format/$file"
  mkdir -p "$(dirname "$formatted")"
  checks=$((checks + 1))
  if ! "$bicep" format "$file" --outfile "$formatted" 2>"$tmp/format.log" >/dev/null || [[ -s "$tmp/format.log" ]]; then
    echo "FAIL  format $file"
    sed 's/^/      /' "$tmp/format.log"
    failures=$((failures + 1))
  elif ! diff -u "$file" "$formatted" >"$tmp/format.diff"; then
    echo "FAIL  format $file (run: $bicep format $file)"
    sed 's/^/      /' "$tmp/format.diff"
    failures=$((failures + 1))
  else
    echo "ok    format $file"
  fi
}

# params_check: every parameter in main.parameters.json exists in main.bicep, every main.bicep
# parameter without a default value is given there (azd fills the ${VAR} values), and a "${VAR=default}" there
# has the same default as the parameter in main.bicep (one default, whichever way the template is deployed).
params_check() {
  local json="infra/main.parameters.json"
  checks=$((checks + 1))
  # Let Bicep parse the JSON: loadJsonContent fails the build on malformed JSON (it takes relative paths only).
  printf "output parameters object = loadJsonContent('%s').parameters\n" \
    "$(realpath --relative-to="$tmp" "$root/$json")" >"$tmp/params.bicep"
  local problems=""
  if ! "$bicep" build "$tmp/params.bicep" --stdout 2>"$tmp/params.log" >/dev/null || [[ -s "$tmp/params.log" ]]; then
    problems+="$(cat "$tmp/params.log")"$'\n'
  fi
  local given declared required name
  given="$(grep -oE '^    "[A-Za-z_][A-Za-z0-9_]*": \{' "$json" | sed -E 's/^    "([^"]+)".*/\1/' | sort)"
  declared="$(sed -nE 's/^param ([A-Za-z_][A-Za-z0-9_]*) .*/\1/p' infra/main.bicep | sort)"
  required="$(sed -nE '/=/!s/^param ([A-Za-z_][A-Za-z0-9_]*) .*/\1/p' infra/main.bicep | sort)"
  for name in $given; do
    grep -qx "$name" <<<"$declared" || problems+="$json sets '$name', which main.bicep does not declare"$'\n'
  done
  for name in $required; do
    grep -qx "$name" <<<"$given" || problems+="main.bicep requires '$name', which $json does not set"$'\n'
  done
  local mismatched
  mismatched="$(node -e '
    const fs = require("fs");
    const [json, bicep] = process.argv.slice(1).map((f) => fs.readFileSync(f, "utf8"));
    const defaults = {};
    for (const m of bicep.matchAll(/^param (\w+) \w+ = (.+)$/gm)) defaults[m[1]] = m[2].trim().replace(/^'"'"'(.*)'"'"'$/, "$1");
    for (const [name, p] of Object.entries(JSON.parse(json).parameters)) {
      const m = /^\$\{(\w+)=(.*)\}$/.exec(String(p.value));
      if (m && name in defaults && defaults[name] !== m[2]) {
        console.log(`${name}: \${${m[1]}=${m[2]}} in main.parameters.json, but main.bicep defaults to ${defaults[name]}`);
      }
    }' "$json" infra/main.bicep 2>&1)"
  [[ -z "$mismatched" ]] || problems+="$mismatched"$'\n'
  if [[ -z "$problems" ]]; then
    echo "ok    parameters $json"
  else
    echo "FAIL  parameters $json"
    printf '%s' "$problems" | sed 's/^/      /'
    failures=$((failures + 1))
  fi
}

echo "validate-infra: Bicep CLI $("$bicep" --version | sed -n 's/^Bicep CLI version \([^ ]*\).*/\1/p')"

mapfile -t bicep_files < <(find infra -name '*.bicep' -type f | sort)
mapfile -t param_files < <(find infra -name '*.bicepparam' -type f | sort)

check "build infra/main.bicep" "$bicep" build infra/main.bicep --outfile "$tmp/main.json"
if [[ -s "$tmp/main.json" ]]; then
  check "flex consumption site properties and app settings (compiled main.json)" \
    node .ci/flex-site-check.mjs "$tmp/main.json" --self-test
else
  checks=$((checks + 1))
  failures=$((failures + 1))
  echo "FAIL  flex consumption site properties and app settings: main.bicep did not compile"
fi
for file in "${param_files[@]}"; do
  check "build-params $file" "$bicep" build-params "$file" --outfile "$tmp/params/$(basename "$file" .bicepparam).json"
done
for file in "${bicep_files[@]}"; do
  check "lint $file" "$bicep" lint "$file"
done
for file in "${bicep_files[@]}" "${param_files[@]}"; do
  format_check "$file"
done
params_check

if ((failures > 0)); then
  echo "validate-infra: FAILED, $failures of $checks checks failed (${#bicep_files[@]} .bicep, ${#param_files[@]} .bicepparam files)"
  exit 1
fi
echo "validate-infra: OK, $checks checks passed with zero diagnostics (${#bicep_files[@]} .bicep, ${#param_files[@]} .bicepparam files, Bicep $version)"
