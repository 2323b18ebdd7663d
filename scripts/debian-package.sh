# Sourced by scripts/ensure-*.sh, which define cannot_install REASON (prints what to install, exits 1):
# `install_debian_package PACKAGE BINARY` installs a Debian package with apt-get if this user may (root,
# or sudo without a password), and checks that BINARY came with it; otherwise it calls cannot_install.

install_debian_package () {
  local package=$1 binary=$2
  # How apt-get is run: env sets DEBIAN_FRONTEND for it (sudo would drop an exported one); sudo's -n
  # never asks for a password (there may be no terminal).
  local as_root=(env)
  if ! command -v apt-get >/dev/null; then
    cannot_install "it is missing and there is no apt-get here"
  elif [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      as_root=(sudo -n env)
    else
      cannot_install "it is missing and this user is not root and cannot sudo without a password"
    fi
  fi

  apt () {
    "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get "$@" </dev/null
  }

  local script=${0##*/}
  echo "${script%.sh}: $binary is missing; installing Debian's $package package with apt-get" >&2
  # A stale package list is the usual reason the first try fails: update it and try once more.
  if ! apt install -y -q "$package"; then
    apt update -q && apt install -y -q "$package" || cannot_install "apt-get install -y -q $package failed (its output is above)"
  fi
  if [ ! -x "$binary" ]; then
    cannot_install "apt-get installed the $package package, but $binary is still missing"
  fi
}
