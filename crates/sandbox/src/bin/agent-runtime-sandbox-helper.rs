//! `agent-runtime-sandbox-helper`: the sandbox helper as a program of its own (see
//! `agent_runtime_sandbox::helper`). The server binary runs the same code as
//! `agent-runtime sandbox-helper`.

fn main() -> std::process::ExitCode {
    agent_runtime_sandbox::helper::main(std::env::args_os().skip(1))
}
