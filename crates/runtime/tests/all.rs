//! Runtime tests with the real agent CLI in real sandboxes against the scripted model.

mod suite;
