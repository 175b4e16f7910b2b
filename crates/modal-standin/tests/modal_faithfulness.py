"""Drives the Modal stand-in with Modal's own Python client (modal==1.6.4), unmodified.

Run by modal_python.rs with MODAL_SERVER_URL, MODAL_TOKEN_ID and MODAL_TOKEN_SECRET pointing at
the stand-in. Prints one JSON object; any exception fails the test.
"""

import faulthandler
import json

# A hang shows where it is stuck (before the test's own timeout).
faulthandler.dump_traceback_later(150, exit=True)

import modal

out = {}

app = modal.App.lookup("faithfulness", create_if_missing=True)
out["app_id"] = app.app_id
image = modal.Image.from_registry("node:22-slim").run_commands("npm install -g @anthropic-ai/claude-code@2.0.0")
secret = modal.Secret.from_dict({"STAND_IN_SECRET": "s3cret-value"})

sb = modal.Sandbox.create(
    "sleep", "infinity", app=app, image=image, secrets=[secret], timeout=120, block_network=True
)
out["sandbox_id"] = sb.object_id
sb.set_tags({"owner": "faithfulness", "run": "1"})
out["tags"] = sb.get_tags()

# stdin in, stdout and stderr out, the sandbox's secret in the environment, an exit code.
p = sb.exec("sh", "-c", 'read line; echo "got:$line"; echo "secret:$STAND_IN_SECRET"; echo oops >&2; exit 3')
p.stdin.write(b"hello\n")
p.stdin.write_eof()
p.stdin.drain()
out["exec"] = {"stdout": p.stdout.read(), "stderr": p.stderr.read(), "returncode": p.wait()}

# An exec's own env and secrets, and its workdir.
q = sb.exec(
    "sh", "-c", 'echo "$EXEC_VAR $EXEC_SECRET $(pwd)"', env={"EXEC_VAR": "v1"},
    secrets=[modal.Secret.from_dict({"EXEC_SECRET": "x2"})], workdir="/tmp",
)
out["exec_env"] = q.stdout.read()
out["exec_env_poll"] = q.wait()

# One filesystem: a file one exec writes, another reads.
w = sb.exec("sh", "-c", "echo shared > /tmp/shared.txt")
out["write_returncode"] = w.wait()
r = sb.exec("cat", "/tmp/shared.txt")
out["shared_file"] = r.stdout.read()
r.wait()

# One PID namespace: a process one exec left running, another sees.
bg = sb.exec("sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!")
pid = bg.stdout.read().strip()
bg.wait()
ps = sb.exec("cat", f"/proc/{pid}/comm")
out["other_exec_process"] = ps.stdout.read().strip()
ps.wait()

out["listed"] = [s.object_id == sb.object_id for s in modal.Sandbox.list(app_id=app.app_id, tags={"owner": "faithfulness"})]
out["listed_wrong_tag"] = [s.object_id for s in modal.Sandbox.list(app_id=app.app_id, tags={"owner": "nobody"})]
out["poll_running"] = sb.poll()

sb.terminate()
sb.wait(raise_on_termination=False)
out["returncode_after_terminate"] = sb.returncode
out["poll_after_terminate"] = modal.Sandbox.from_id(sb.object_id).poll()
out["listed_after_terminate"] = [s.object_id for s in modal.Sandbox.list(app_id=app.app_id)]
try:
    sb.exec("true").wait()
    out["exec_after_terminate"] = "succeeded"
except Exception as e:  # noqa: BLE001 - the type is what the test asserts
    out["exec_after_terminate"] = type(e).__name__

print(json.dumps(out))
