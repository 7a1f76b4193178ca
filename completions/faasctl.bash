# bash completion for faasctl: generated from faasctl's argument parser by `faasctl completion bash`; do not edit
_faasctl() {
    local cur prev cmd i opts
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd=""
    for ((i=1; i<COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            run|runtimes|inspect|pull|push|cache|serve|test|bench|completion|flow|worker) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    case "$cmd" in
        run)
            opts="-h --help -i --input -d --data -p --param --text --max-input --runtime -r --output-json --format -f --quiet -q --config --timeout --memory --fuel --max-output --invoke --abi --wasi-args --arg --dir --env --kv --pull --offline --insecure --temporal --task-queue --namespace"
            case "$prev" in
                -i|--input) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
                -d|--data) COMPREPLY=(); return 0 ;;
                -p|--param) COMPREPLY=(); return 0 ;;
                --max-input) COMPREPLY=(); return 0 ;;
                --runtime|-r) COMPREPLY=(); return 0 ;;
                --output-json) COMPREPLY=($(compgen -W "true false auto" -- "$cur")); return 0 ;;
                --format|-f) COMPREPLY=($(compgen -W "result json" -- "$cur")); return 0 ;;
                --config) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
                --timeout) COMPREPLY=(); return 0 ;;
                --memory) COMPREPLY=(); return 0 ;;
                --fuel) COMPREPLY=(); return 0 ;;
                --max-output) COMPREPLY=(); return 0 ;;
                --invoke) COMPREPLY=(); return 0 ;;
                --abi) COMPREPLY=($(compgen -W "wasi string core" -- "$cur")); return 0 ;;
                --wasi-args) COMPREPLY=($(compgen -W "json" -- "$cur")); return 0 ;;
                --arg) COMPREPLY=(); return 0 ;;
                --dir) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
                --env) COMPREPLY=(); return 0 ;;
                --kv) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
                --pull) COMPREPLY=($(compgen -W "always missing never" -- "$cur")); return 0 ;;
                --temporal) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
                --task-queue) COMPREPLY=(); return 0 ;;
                --namespace) COMPREPLY=(); return 0 ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=($(compgen -f -- "$cur")); return 0
            ;;
        runtimes)
            opts="-h --help --format -f --config"
            case "$prev" in
                --format|-f) COMPREPLY=($(compgen -W "table json" -- "$cur")); return 0 ;;
                --config) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=(); return 0
            ;;
        inspect)
            opts="-h --help --format -f --invoke --abi --memory --config --offline --insecure"
            case "$prev" in
                --format|-f) COMPREPLY=($(compgen -W "table json" -- "$cur")); return 0 ;;
                --invoke) COMPREPLY=(); return 0 ;;
                --abi) COMPREPLY=($(compgen -W "wasi string core" -- "$cur")); return 0 ;;
                --memory) COMPREPLY=(); return 0 ;;
                --config) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=($(compgen -f -- "$cur")); return 0
            ;;
        pull)
            opts="-h --help --max-size --username -u --password-stdin --insecure --format -f"
            case "$prev" in
                --max-size) COMPREPLY=(); return 0 ;;
                --username|-u) COMPREPLY=(); return 0 ;;
                --format|-f) COMPREPLY=($(compgen -W "text json" -- "$cur")); return 0 ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=($(compgen -f -- "$cur")); return 0
            ;;
        push)
            opts="-h --help --abi --runtime --annotation --username -u --password-stdin --insecure --format -f"
            case "$prev" in
                --abi) COMPREPLY=($(compgen -W "wasi string core" -- "$cur")); return 0 ;;
                --runtime) COMPREPLY=(); return 0 ;;
                --annotation) COMPREPLY=(); return 0 ;;
                --username|-u) COMPREPLY=(); return 0 ;;
                --format|-f) COMPREPLY=($(compgen -W "text json" -- "$cur")); return 0 ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=($(compgen -f -- "$cur")); return 0
            ;;
        cache)
            opts="-h --help"
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=($(compgen -W "ls prune" -- "$cur")); return 0
            ;;
        serve)
            opts="-h --help --host --port --store --workers --queue --token --retention --max-body --allow-path --config --timeout --memory --fuel --max-output --max-timeout --max-memory --max-fuel --max-max-output"
            case "$prev" in
                --host) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
                --port) COMPREPLY=(); return 0 ;;
                --store) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
                --workers) COMPREPLY=(); return 0 ;;
                --queue) COMPREPLY=(); return 0 ;;
                --token) COMPREPLY=(); return 0 ;;
                --retention) COMPREPLY=(); return 0 ;;
                --max-body) COMPREPLY=(); return 0 ;;
                --allow-path) COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
                --config) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
                --timeout) COMPREPLY=(); return 0 ;;
                --memory) COMPREPLY=(); return 0 ;;
                --fuel) COMPREPLY=(); return 0 ;;
                --max-output) COMPREPLY=(); return 0 ;;
                --max-timeout) COMPREPLY=(); return 0 ;;
                --max-memory) COMPREPLY=(); return 0 ;;
                --max-fuel) COMPREPLY=(); return 0 ;;
                --max-max-output) COMPREPLY=(); return 0 ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=(); return 0
            ;;
        test)
            opts="-h --help -j --jobs -k --filter --junit --list --config"
            case "$prev" in
                -j|--jobs) COMPREPLY=(); return 0 ;;
                -k|--filter) COMPREPLY=(); return 0 ;;
                --junit) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
                --config) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=($(compgen -f -- "$cur")); return 0
            ;;
        bench)
            opts="-h --help -n --runs --warmup --cold --format -f -i --input -d --data -p --param --text --max-input --runtime -r --output-json --invoke --abi --config --timeout --memory --fuel --max-output"
            case "$prev" in
                -n|--runs) COMPREPLY=(); return 0 ;;
                --warmup) COMPREPLY=(); return 0 ;;
                --format|-f) COMPREPLY=($(compgen -W "table json" -- "$cur")); return 0 ;;
                -i|--input) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
                -d|--data) COMPREPLY=(); return 0 ;;
                -p|--param) COMPREPLY=(); return 0 ;;
                --max-input) COMPREPLY=(); return 0 ;;
                --runtime|-r) COMPREPLY=(); return 0 ;;
                --output-json) COMPREPLY=($(compgen -W "true false auto" -- "$cur")); return 0 ;;
                --invoke) COMPREPLY=(); return 0 ;;
                --abi) COMPREPLY=($(compgen -W "wasi string core" -- "$cur")); return 0 ;;
                --config) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
                --timeout) COMPREPLY=(); return 0 ;;
                --memory) COMPREPLY=(); return 0 ;;
                --fuel) COMPREPLY=(); return 0 ;;
                --max-output) COMPREPLY=(); return 0 ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=($(compgen -f -- "$cur")); return 0
            ;;
        completion)
            opts="-h --help"
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=($(compgen -W "bash zsh fish auto" -- "$cur")); return 0
            ;;
        flow)
            opts="-h --help"
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=($(compgen -W "run" -- "$cur")); return 0
            ;;
        worker)
            opts="-h --help"
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=($(compgen -W "temporal conductor" -- "$cur")); return 0
            ;;
        "")
            opts="-h --help --version --install-completion --show-completion"
            case "$prev" in
                --install-completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")); return 0 ;;
                --show-completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")); return 0 ;;
            esac
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "$opts" -- "$cur")); return 0
            fi
            COMPREPLY=($(compgen -W "run runtimes inspect pull push cache serve test bench completion flow worker" -- "$cur")); return 0
            ;;
    esac
}
complete -o bashdefault -o default -F _faasctl faasctl
