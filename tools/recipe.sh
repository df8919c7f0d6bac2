# The shared recipe runner, sourced by every egs/<corpus>/<task>/run.sh.
#
# A run.sh looks like this:
#
#     #!/usr/bin/env bash
#     # Stages: 1 data preparation ...
#     . "$(dirname "$0")/../../../tools/recipe.sh"
#     train_set=train_nodev     # data dir to train on
#     recipe_main "$@"
#
# Sourcing this file defines the common options (below) and remembers which variables exist;
# every variable that run.sh assigns afterwards is a recipe option. `recipe_main "$@"` then
#   - parses Kaldi-style options: `--foo-bar VALUE` or `--foo-bar=VALUE` sets `foo_bar`; an option
#     that is not a known variable is an error; `--help` lists options, defaults and stages;
#   - runs the numbered stage scripts `NN_<name>.sh` of the recipe dir in order, from --stage to
#     --stop-stage, each in its own `bash -euo pipefail` with all options exported;
#   - logs `Stage N: <what>` (the script's first comment line) and the time the stage took;
#   - exports profile_suffix ("" for --profile full, "_quick" for quick): stage scripts name their exp dirs
#     exp/<name>${profile_suffix}, so the profiles never train into or read each other's models;
#   - marks a stage done (.stages/NN_<name>.done, written atomically; with --profile quick
#     .stages/quick/NN_<name>.done, so the two profiles never take each other's stages for done) only after the script
#     exited 0, and skips a done stage on re-run unless --force is given. A stage script may
#     list its outputs in a `# outputs: path ...` comment; a done stage whose outputs are gone
#     runs again.
#   - records in the marker what the stage consumed: a hash of the stage script, of the recipe
#     options it reads (and of the files they name: configs), of the conf/ files the script names,
#     and of the earlier stages' markers.
#     A done stage whose inputs changed runs again, and so does every later stage (their
#     upstream markers changed), so results never describe an older model. Options that only
#     say how to run (nj, cmd, cmd_conf, nproc, stage, stop_stage, force) are not inputs.
# Stage scripts write their outputs through the speechproc verbs, which write to temporary
# names and rename, so a stage killed half-way never leaves outputs that look complete.

# ---- common options (every recipe has these) ----
stage=1            # first stage to run
stop_stage=10000   # last stage to run
nj=4               # number of parallel jobs for split work (decoding, feature extraction, ...)
cmd=local          # job backend: local or slurm
cmd_conf=conf/slurm.yaml  # site options for --cmd slurm (partition, time, mem, cpus, gpus: GPUs per job); tools/slurm/slurm.yaml when the recipe has none
nproc=1            # processes per training job (torchrun --nproc_per_node)
force=false        # redo stages that are marked done
profile=full       # config set: full (the benchmark configs) or quick (small configs for a fast end-to-end run)

_recipe_common_opts="stage stop_stage nj cmd cmd_conf nproc force profile"
_recipe_vars_before=$(compgen -v)
_recipe_runsh=$(cd "$(dirname "${BASH_SOURCE[1]:-$0}")" && pwd)/$(basename "${BASH_SOURCE[1]:-$0}")
_recipe_dir=$(dirname "$_recipe_runsh")
_recipe_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

_recipe_log() {
  echo "$(date '+%Y-%m-%d %H:%M:%S') INFO [$(basename "$_recipe_dir")/run.sh] $*"
}

_recipe_die() {
  echo "$(basename "$(dirname "$_recipe_dir")")/$(basename "$_recipe_dir")/run.sh: error: $*" >&2
  exit 1
}

# The recipe options: variables assigned in run.sh after this file was sourced. Called once,
# from recipe_main before any local variable exists (compgen -v would list those too).
_recipe_find_options() {
  echo "$_recipe_common_opts" | tr ' ' '\n'
  comm -13 <(echo "$_recipe_vars_before" | LC_ALL=C sort) <(compgen -v | LC_ALL=C sort) \
    | while read -r _v; do
        case "$_v" in _*|BASH_*|FUNCNAME|PIPESTATUS|LINENO|RANDOM|SECONDS|OPTIND|OPTARG|COLUMNS|LINES) continue ;; esac
        echo "$_v"
      done
}

_recipe_options() { echo "$_recipe_option_list"; }

# The comment at the end of `name=value  # comment` in run.sh or in this file.
_recipe_option_doc() {
  local name=$1 line
  line=$(grep -h -m1 -E "^${name}=" "$_recipe_runsh" ${_recipe_template_dir:+"$_recipe_template_dir/options.sh"} \
    "${BASH_SOURCE[0]}" 2>/dev/null | head -n1)
  case "$line" in *"#"*) echo "${line#*#}" | sed 's/^ *//' ;; esac
}

# A recipe that shares its stages with others (ESPnet's egs2/TEMPLATE): `recipe_template NAME` in run.sh, after
# sourcing this file and before its own options. The numbered stage scripts of egs/TEMPLATE/NAME then run for this
# recipe too (in the recipe dir, on its data/, conf/ and exp/), and egs/TEMPLATE/NAME/options.sh declares the options
# they share; the recipe's own options (assigned after the call) override those defaults, and its own NN_<name>.sh
# replaces the template's script of the same name (corpus-specific data preparation).
_recipe_template_dir=
recipe_template() {
  _recipe_template_dir=$(cd "$_recipe_dir/../../TEMPLATE/$1" 2>/dev/null && pwd) \
    || _recipe_die "recipe_template $1: no template egs/TEMPLATE/$1 next to this recipe"
  if [ -f "$_recipe_template_dir/options.sh" ]; then . "$_recipe_template_dir/options.sh"; fi
}

# The stage script names of the recipe (its own and its template's), in order.
_recipe_stage_scripts() {
  { find "$_recipe_dir" -maxdepth 1 -name '[0-9][0-9]_*.sh' -printf '%f\n'
    [ -z "$_recipe_template_dir" ] || find "$_recipe_template_dir" -maxdepth 1 -name '[0-9][0-9]_*.sh' -printf '%f\n'
  } | LC_ALL=C sort -u
}

# The file of stage script NAME: the recipe's own, else its template's.
_recipe_script() {
  if [ -f "$_recipe_dir/$1" ] || [ -z "$_recipe_template_dir" ]; then echo "$_recipe_dir/$1"; else echo "$_recipe_template_dir/$1"; fi
}

# First comment line after the shebang: "# <what this stage does>", with the recipe options it names
# ($name or ${name}) replaced by their values.
_recipe_stage_title() {
  local line name n
  line=$(sed -n '2,5{/^# /{s/^# //;p;q}}' "$(_recipe_script "$1")")
  for name in $(_recipe_options) profile_suffix; do
    line=${line//"\${$name}"/${!name}}
    n=0
    while [ $n -lt 20 ] && [[ $line =~ ^(.*)\$${name}([^A-Za-z0-9_].*)?$ ]]; do
      line="${BASH_REMATCH[1]}${!name}${BASH_REMATCH[2]}"
      n=$((n + 1))
    done
  done
  echo "$line"
}

_recipe_help() {
  local name doc s
  echo "Usage: $(basename "$_recipe_dir")/run.sh [options]"
  echo
  echo "Options (--foo-bar VALUE sets foo_bar; default in brackets):"
  for name in $(_recipe_options); do
    doc=$(_recipe_option_doc "$name")
    printf '  --%-24s [%s] %s\n' "${name//_/-}" "${!name}" "$doc"
  done
  echo
  echo "Stages:"
  for s in $(_recipe_stage_scripts); do
    printf '  %3d  %s\n' "$((10#${s%%_*}))" "$(_recipe_stage_title "$s")"
  done
}

_recipe_parse() {
  local known name value
  known=" $(_recipe_options | tr '\n' ' ') "
  while [ $# -gt 0 ]; do
    case "$1" in
      --help|-h) _recipe_help; exit 0 ;;
      --*=*) name=${1%%=*}; value=${1#*=}; shift ;;
      --*)
        name=$1
        [ $# -ge 2 ] || _recipe_die "option $1 needs a value (see --help)"
        value=$2; shift 2 ;;
      *) _recipe_die "unexpected argument '$1': options are --name value (see --help)" ;;
    esac
    name=${name#--}; name=${name//-/_}
    case "$known" in
      *" $name "*) ;;
      *) _recipe_die "unknown option --${name//_/-} (see --help for the options of this recipe)" ;;
    esac
    # Boolean options may be given as --force true|false.
    printf -v "$name" '%s' "$value"
  done
  [[ "$stage" =~ ^[0-9]+$ ]] || _recipe_die "--stage must be a number, got '$stage'"
  [[ "$stop_stage" =~ ^[0-9]+$ ]] || _recipe_die "--stop-stage must be a number, got '$stop_stage'"
  [[ "$nj" =~ ^[1-9][0-9]*$ ]] || _recipe_die "--nj must be a positive number, got '$nj'"
  case "$cmd" in local|slurm) ;; *) _recipe_die "--cmd must be local or slurm, got '$cmd'" ;; esac
  case "$force" in true|false) ;; *) _recipe_die "--force must be true or false, got '$force'" ;; esac
  case "$profile" in full|quick) ;; *) _recipe_die "--profile must be full or quick, got '$profile'" ;; esac
}

# Outputs a stage declares with "# outputs: a b c"; empty when it declares none.
_recipe_stage_outputs() {
  local line
  line=$(grep -m1 -E '^# outputs:' "$(_recipe_script "$1")" || true)
  [ -n "$line" ] || return 0
  eval "echo ${line#\# outputs:}"
}

_recipe_how_to_run="stage stop_stage nj cmd cmd_conf nproc force"

# Where the done-markers of the chosen profile live (the full profile keeps the historical .stages/).
_recipe_marks() {
  if [ "$profile" = full ]; then echo .stages; else echo ".stages/$profile"; fi
}

# What a stage consumed, as one hash: the script, the options it reads with their values (and the
# content of an option's file: a config), and the markers of the earlier stages that are done.
_recipe_stage_inputs() {
  local script name value up
  script=$(_recipe_script "$1")
  {
    echo "script $(sha256sum < "$script" | cut -d' ' -f1)"
    for name in $(_recipe_options); do
      case " $_recipe_how_to_run " in *" $name "*) continue ;; esac
      grep -q -E "\\$\{?${name}([^A-Za-z0-9_]|$)" "$script" || continue
      value=${!name}
      echo "option $name=$value"
      if [ -f "$value" ]; then echo "file $value $(sha256sum < "$value" | cut -d' ' -f1)"; fi
    done
    # config files the script names itself (conf/train_lm.yaml as a default inside the script)
    for value in $(grep -oE 'conf/[A-Za-z0-9_.-]+\.(yaml|yml|json|txt)' "$script" | LC_ALL=C sort -u); do
      if [ -f "$value" ]; then echo "file $value $(sha256sum < "$value" | cut -d' ' -f1)"; fi
    done
    for up in $(_recipe_stage_scripts); do
      [ "$up" \< "$1" ] || break
      if [ -f "$(_recipe_marks)/${up%.sh}.done" ]; then
        echo "upstream $up $(tr "\n" " " < "$(_recipe_marks)/${up%.sh}.done")"
      fi
    done
  } | sha256sum | cut -d' ' -f1
}

_recipe_stage_complete() {
  local script=$1 marker=$2 out
  [ -f "$marker" ] || return 1
  if [ "$(head -n1 "$marker")" != "inputs $(_recipe_stage_inputs "$script")" ]; then
    _recipe_log "  the inputs of done stage $script changed (its script, options, config files or an earlier stage); running it again"
    return 1
  fi
  for out in $(_recipe_stage_outputs "$script"); do
    [ -e "$out" ] || { _recipe_log "  output $out of a done stage is missing; running it again"; return 1; }
  done
  return 0
}

# One run per stage at a time: a stage holds an flock on .stages/NN_<name>.lock (fd 9) while it runs, and
# writes its PID, host, start time and command into it. A second run of the same stage exits at once naming
# the holder; a lock left by a run that died (the kernel released it) is taken over with a warning.
_recipe_lock_stage() {
  local lock=".stages/${1%.sh}.lock" holder
  exec 9>>"$lock"
  if ! flock -n 9; then
    holder=$(cat "$lock" 2>/dev/null)
    exec 9>&-
    _recipe_die "Stage $2 ($1) is running in another run of this recipe (${holder:-holder unknown}); wait for it to finish, or stop it first"
  fi
  holder=$(cat "$lock" 2>/dev/null)
  [ -z "$holder" ] || _recipe_log "WARNING: taking over the lock of Stage $2 from a run that is gone ($holder)"
  printf 'pid %s on %s since %s: %s\n' "$$" "$(hostname)" "$(date '+%Y-%m-%d %H:%M:%S')" "$_recipe_cmdline" > "$lock"
}

_recipe_unlock_stage() {
  : > ".stages/${1%.sh}.lock"
  flock -u 9
  exec 9>&-
}

recipe_main() {
  _recipe_cmdline="$_recipe_runsh $*"
  _recipe_option_list=$(_recipe_find_options)
  _recipe_parse "$@"
  cd "$_recipe_dir"
  if [ "$cmd_conf" = conf/slurm.yaml ] && [ ! -f conf/slurm.yaml ]; then
    cmd_conf=$_recipe_root/tools/slurm/slurm.yaml
  fi
  if [ -x "$_recipe_root/tools/venv/bin/python" ]; then
    export PATH="$_recipe_root/tools/venv/bin:$PATH"
  elif ! python3 -c 'import speechproc' 2>/dev/null; then
    _recipe_die "speechproc is not installed: run 'bash $_recipe_root/tools/install.sh' first"
  fi
  local name script n title marker start rc elapsed ran=0
  for name in $(_recipe_options); do export "${name?}"; done
  export SPEECHPROC_ROOT="$_recipe_root"
  # exp dirs of the quick profile carry this suffix (exp/<name>_quick), so the two profiles never share a model
  profile_suffix=; [ "$profile" = full ] || profile_suffix=_$profile
  export profile_suffix
  [ "$stage" -le "$stop_stage" ] || _recipe_die "--stage $stage is after --stop-stage $stop_stage"
  local all="" selected=0
  for script in $(_recipe_stage_scripts); do
    n=$((10#${script%%_*}))
    all="$all $n"
    [ "$n" -ge "$stage" ] && [ "$n" -le "$stop_stage" ] && selected=$((selected + 1))
  done
  [ "$selected" -gt 0 ] || _recipe_die "no stage between $stage and $stop_stage; this recipe's stages are:$all"
  mkdir -p .stages "$(_recipe_marks)"
  for script in $(_recipe_stage_scripts); do
    n=$((10#${script%%_*}))
    [ "$n" -ge "$stage" ] && [ "$n" -le "$stop_stage" ] || continue
    title=$(_recipe_stage_title "$script")
    marker=$(_recipe_marks)/${script%.sh}.done
    _recipe_lock_stage "$script" "$n"
    if [ "$force" != true ] && _recipe_stage_complete "$script" "$marker"; then
      _recipe_log "Stage $n: $title: done already ($marker), skipping (--force true to redo)"
      _recipe_unlock_stage "$script"
      continue
    fi
    rm -f "$marker"
    _recipe_log "Stage $n: $title"
    start=${EPOCHREALTIME/./}
    rc=0
    bash -euo pipefail "$(_recipe_script "$script")" 9>&- || rc=$?
    elapsed=$(( ${EPOCHREALTIME/./} - start ))
    elapsed=$(printf '%d.%d' $((elapsed / 1000000)) $(( (elapsed / 100000) % 10 )))
    if [ "$rc" -ne 0 ]; then
      _recipe_unlock_stage "$script"
      _recipe_die "Stage $n ($script) failed with exit code $rc after ${elapsed} s"
    fi
    { echo "inputs $(_recipe_stage_inputs "$script")"; date '+%Y-%m-%d %H:%M:%S.%N'; } > "$marker.tmp.$$" \
      && mv "$marker.tmp.$$" "$marker"
    _recipe_unlock_stage "$script"
    _recipe_log "Stage $n: $title: finished in ${elapsed} s"
    ran=$((ran + 1))
  done
  _recipe_log "all requested stages ($stage..$stop_stage) are done"
}
