#!/usr/bin/env bash
# Import-direction check for the hmi module (ARCHITECTURE.md, "Packages and who may import whom").
#
# Usage: .ci/imports.sh            (from anywhere inside the repository)
#
# For every package of the module it compares the hmi-internal imports of the package's non-test code with the
# table below. External modules are not restricted, except for the packages marked "std": their whole dependency
# closure (go list -deps) must be the standard library. Nothing may import hmi/cmd/... (test code included).
# A package that is not in the table is an error: add it to the table. A package in the table that does not
# exist yet is simply not checked.
#
# Each violation is printed as "PKG imports FORBIDDEN (rule)"; the exit status is 1 if there is any.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"

module=$(go list -m)

# Allowed hmi-internal imports per package, as paths relative to the module.
#   std  : standard library only, checked over the full dependency closure
#   *    : anything in the module (except cmd/..., which nobody may import)
#   ""   : no hmi package
# A key ending in "/..." covers every package below that folder.
declare -A allow=(
	[frontstation/iec104]="std"
	[points]="std"
	[frontstation]="frontstation/iec104 points capture"
	[alarms]="points"
	[store]="points alarms"
	[config]="points frontstation/iec104"
	[sim]="frontstation/iec104"
	[demo]="sim frontstation/iec104"
	[capture]="frontstation/iec104"
	[server]="web static"
	[web]="templates points alarms"
	[templates]="points"
	[static]=""
	[internal/testpki]="std" # certificates for tests; imported by _test.go files only
	[cmd/...]="*"
)

# rule TEXT: the human-readable rule for a table entry, used in messages.
rule() {
	local key=$1 val=$2
	case $val in
	std) echo "$key: standard library only, including indirect dependencies" ;;
	"") echo "$key: may import no hmi package" ;;
	*) echo "$key -> ${val// /, }" ;;
	esac
}

# lookup REL: prints the table key for a package path relative to the module, or nothing.
lookup() {
	local rel=$1 key
	if [[ -n ${allow[$rel]+x} ]]; then
		echo "$rel"
		return
	fi
	for key in "${!allow[@]}"; do
		if [[ $key == */... && ( $rel == "${key%/...}" || $rel == "${key%/...}"/* ) ]]; then
			echo "$key"
			return
		fi
	done
}

violations=0
checked=0
report() {
	echo "$1 imports $2 ($3)"
	violations=$((violations + 1))
}

# -e: a package that is mid-work and does not compile is still listed; go build reports its errors.
listing=$(go list -e -f '{{.ImportPath}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}' ./...)

while IFS='|' read -r pkg imports testimports; do
	[[ -z $pkg ]] && continue
	if [[ $pkg == "$module" ]]; then
		rel="."
	else
		rel=${pkg#"$module"/}
	fi
	checked=$((checked + 1))

	# Nobody imports a command, not even from tests.
	for imp in $imports $testimports; do
		if [[ $imp == "$module/cmd" || $imp == "$module/cmd/"* ]]; then
			report "$pkg" "$imp" "nothing imports $module/cmd/..."
		fi
	done

	key=$(lookup "$rel")
	if [[ -z $key ]]; then
		echo "$pkg: not in the import table of .ci/imports.sh (add it to the table, with the hmi packages it may import)"
		violations=$((violations + 1))
		continue
	fi
	allowed=${allow[$key]}
	case $allowed in
	"*")
		continue
		;;
	std)
		# Every non-standard package in the dependency closure, other than the package itself, is a
		# violation. Standard packages depend only on standard packages, so each one comes in through a
		# direct import: report those, with how many non-standard packages they bring in.
		declare -A nonstd=()
		while read -r dep; do
			[[ -n $dep && $dep != "$pkg" ]] && nonstd[$dep]=1
		done < <(go list -e -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' "$pkg")
		if ((${#nonstd[@]} > 0)); then
			found=0
			for imp in $imports; do
				if [[ -n ${nonstd[$imp]+x} ]]; then
					report "$pkg" "$imp" "$(rule "$key" std); ${#nonstd[@]} non-standard package(s) in its closure"
					found=1
				fi
			done
			if ((found == 0)); then
				for dep in "${!nonstd[@]}"; do
					report "$pkg" "$dep" "$(rule "$key" std)"
				done
			fi
		fi
		unset nonstd
		continue
		;;
	esac
	for imp in $imports; do
		[[ $imp == "$module" || $imp == "$module/"* ]] || continue # std and external modules: not restricted
		[[ $imp == "$module/cmd" || $imp == "$module/cmd/"* ]] && continue   # reported above
		ok=false
		for a in $allowed; do
			if [[ $imp == "$module/$a" ]]; then
				ok=true
				break
			fi
		done
		$ok || report "$pkg" "$imp" "$(rule "$key" "$allowed")"
	done
done <<<"$listing"

if ((violations > 0)); then
	echo "import check: $violations violation(s) in $checked package(s); see ARCHITECTURE.md, \"Packages and who may import whom\""
	exit 1
fi
echo "import check: $checked package(s), no violation"
