//! `ensure_bwrap` against the real bubblewrap and a broken one.

use std::os::unix::fs::PermissionsExt;

use agent_runtime_sandbox::{ensure_bwrap, BwrapProbe, HostUser, SandboxError};

use super::common::{bwrap, host_users, timed};

#[tokio::test]
async fn the_installed_bwrap_is_found_and_works() {
    timed(async {
        for user in host_users() {
            let info = bwrap(user).await;
            assert!(info.path.is_absolute(), "{info:?}");
            assert!(
                info.version.starts_with(|c: char| c.is_ascii_digit()),
                "{info:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_bwrap_that_cannot_sandbox_is_reported_with_a_hint() {
    timed(async {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("bwrap");
        std::fs::write(
            &fake,
            "#!/bin/sh\n\
             if [ \"$1\" = --version ]; then echo 'bubblewrap 0.9.9'; exit 0; fi\n\
             echo 'bwrap: No permissions to create new namespace' >&2; exit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let probe = BwrapProbe {
            path_env: Some(dir.path().as_os_str().to_owned()),
            allow_install: true,
            run_as: HostUser::Runtime,
        };
        let err = ensure_bwrap(&probe).await.unwrap_err();
        assert!(matches!(err, SandboxError::BwrapUnusable { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains("No permissions to create new namespace"),
            "{message}"
        );
        assert!(message.contains("user.max_user_namespaces"), "{message}");
    })
    .await;
}
