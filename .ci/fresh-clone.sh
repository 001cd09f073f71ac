#!/usr/bin/env bash
# Fresh-clone check: what a newcomer does first, end to end, with the real binary.
#
#   build hmi; hmi check config.example.yaml; start 'hmi' (the embedded demo) in an empty directory; wait for
#   /healthz; log in over HTTP with the printed operator account; read /api/v1/points until every point of both
#   simulated RTUs (the TLS one included) has a value of good quality; stop it with SIGTERM; want exit status 0.
#
# Needs curl and jq. Every wait is bounded. Usage: .ci/fresh-clone.sh (from anywhere in the repository).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"
repo=$(pwd)
tmp=$(mktemp -d)
pid=
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "fresh-clone check FAILED: $*"
	for f in out err; do
		[[ -f $tmp/$f ]] && { echo "--- hmi std$f (last 40 lines)"; tail -n 40 "$tmp/$f"; }
	done
	exit 1
}

echo "build"
go build -o "$tmp/hmi" ./cmd/hmi

echo "hmi check --config config.example.yaml"
"$tmp/hmi" check --config "$repo/config.example.yaml" || fail "hmi check rejected config.example.yaml"

echo "start the demo: hmi (no arguments) in an empty directory"
mkdir "$tmp/work"
(cd "$tmp/work" && exec "$tmp/hmi" >"$tmp/out" 2>"$tmp/err") &
pid=$!

base=
for _ in $(seq 1 300); do
	kill -0 "$pid" 2>/dev/null || fail "hmi exited at start"
	base=$(sed -n 's/^hmi: serving \(http:\/\/[^ ]*\).*/\1/p' "$tmp/out" | head -n 1)
	[[ -n $base ]] && break
	sleep 0.1
done
[[ -n $base ]] || fail "no 'hmi: serving' line within 30 s"
echo "serving on $base"
for user in admin engineer operator viewer; do
	grep -qE "^  $user +[a-z0-9-]{19} " "$tmp/out" || fail "the banner does not show the $user account"
done

for _ in $(seq 1 100); do
	[[ $(curl -s -o /dev/null -w '%{http_code}' "$base/healthz") == 200 ]] && break
	sleep 0.1
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$base/healthz") == 200 ]] || fail "/healthz is not 200"
echo "/healthz ok"

password=$(awk '$1 == "operator" { print $2 }' "$tmp/work/hmi-demo/accounts.txt")
[[ -n $password ]] || fail "no operator password in hmi-demo/accounts.txt"
jar=$tmp/cookies
token=$(curl -s -c "$jar" -b "$jar" "$base/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n 1)
[[ -n $token ]] || fail "no CSRF token on the login page"
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" --data-urlencode "csrf_token=$token" \
	--data-urlencode "username=operator" --data-urlencode "password=$password" "$base/login")
[[ $code == 303 || $code == 302 ]] || fail "login answered $code, want a redirect"
user=$(curl -s -b "$jar" "$base/api/v1/session" | jq -r .user)
[[ $user == operator ]] || fail "not logged in after the login form (session user '$user')"
echo "logged in as operator"

# Every point has a value and no quality flag; both links deliver.
good='[.[] | select(.value != null and ([.quality[]] | any | not))]'
summary=
for _ in $(seq 1 200); do
	points=$(curl -s -b "$jar" "$base/api/v1/points")
	summary=$(jq -r "\"\(length) points, \($good | length) good, north \($good | map(select(.link == \"north\")) | length), south (TLS) \($good | map(select(.link == \"south\")) | length)\"" <<<"$points")
	if jq -e "length > 0 and ($good | length) == length and ($good | map(.link) | unique) == [\"north\", \"south\"]" <<<"$points" >/dev/null; then
		break
	fi
	summary="$summary (not yet all good)"
	sleep 0.1
done
echo "$summary"
[[ $summary != *"not yet"* ]] || fail "points not all good within 20 s: $(jq -c "[.[] | select(.value == null or ([.quality[]] | any)) | .id]" <<<"$points")"

echo "SIGTERM"
kill -TERM "$pid"
rc=
for _ in $(seq 1 200); do
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" && rc=0 || rc=$?
		break
	fi
	sleep 0.1
done
[[ -n $rc ]] || fail "hmi still running 20 s after SIGTERM"
pid=
[[ $rc == 0 ]] || fail "hmi exited with status $rc after SIGTERM"
if grep -E 'level=(ERROR|WARN)' "$tmp/err"; then
	fail "warnings or errors in the log"
fi
echo "clean exit"
echo "fresh-clone check passed"
