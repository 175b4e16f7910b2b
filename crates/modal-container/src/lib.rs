//! The container init of the Modal stand-in (`agent-runtime-modal-container`, see
//! `agent_runtime_modal_standin`) and the framed protocol it speaks with the stand-in
//! ([`frame`]). Test support only.

pub mod frame;
