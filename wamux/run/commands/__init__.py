"""The `wamux` subcommands, one module per group; the parser and `main` are in `wamux/run/cli.py`.

    base         exit codes, CommandFailed, the DATA_DIR lock, the progress bar
    offline      what a command opens on DATA_DIR without a server: the event log, the read
                 models, the user directory — each command opens only what it uses
    serve        `wamux serve`
    read_models  `wamux rebuild`, `wamux replay`
    users        `wamux user list|add|reset-password`
    instances    `wamux instance list`
    events       `wamux events export`
    store        `wamux db status|switch`
    doctor       `wamux doctor` and its checks

Heavy imports (the composition root, drivers, rich) stay inside the functions that need them,
so `wamux --help` and the small commands start fast.
"""
