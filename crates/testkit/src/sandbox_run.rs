//! Running a script in a sandbox and collecting what it wrote: for the tests of every
//! sandbox provider (the contract suite, the local and Modal providers' own tests).

use std::time::Duration;

use agent_runtime_sandbox::{LaunchSpec, Sandbox};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one sandboxed script may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// How a sandboxed script ended and what it wrote.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Panics unless the script exited 0; returns its stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "script failed: {self:?}");
        self.stdout
    }
}

/// Runs `sh -c script` in the sandbox with an empty stdin.
pub async fn run(sandbox: &dyn Sandbox, script: &str) -> Ran {
    run_spec(sandbox, LaunchSpec::new("sh").args(["-c", script])).await
}

/// Runs `spec` in the sandbox with an empty stdin, within [`RUN_TIMEOUT`]. Panics (it is for
/// tests) when the process cannot be started, read or waited for.
pub async fn run_spec(sandbox: &dyn Sandbox, spec: LaunchSpec) -> Ran {
    let work = async {
        let mut process = sandbox.spawn(spec).await.expect("the process starts");
        process.stdin.shutdown().await.expect("stdin closes");
        drop(process.stdin);
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let (out, err) = tokio::join!(
            process.stdout.read_to_string(&mut stdout),
            process.stderr.read_to_string(&mut stderr)
        );
        out.expect("stdout is read");
        err.expect("stderr is read");
        let exit = process
            .handle
            .wait()
            .await
            .expect("the process is waited for");
        Ran {
            code: exit.code,
            stdout,
            stderr,
        }
    };
    tokio::time::timeout(RUN_TIMEOUT, work)
        .await
        .expect("sandboxed script timed out")
}
