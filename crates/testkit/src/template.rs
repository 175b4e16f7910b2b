//! `{{placeholder}}` substitution in scripted strings (see [`crate::scenario::Response`]).

use serde_json::Value;

use crate::api::Vocabulary;
use crate::model_request::ModelRequest;

/// File name used by `{{mentionedFile}}` when the prompt names none.
const DEFAULT_FILE_NAME: &str = "hello.txt";

/// Values available to placeholders, computed once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateContext {
    cwd: String,
    mentioned_file: String,
    mentioned_path: String,
    last_user_text: String,
    model: String,
    vocabulary: Vocabulary,
}

impl TemplateContext {
    /// Extracts the placeholder values from a request.
    pub fn from_request(request: &ModelRequest<'_>) -> Self {
        let last_user_text = request.last_user_text();
        let cwd = request
            .working_directory()
            .unwrap_or_else(|| ".".to_owned());
        let mentioned_file = find_mentioned_file(&request.last_prompt_text())
            .unwrap_or(DEFAULT_FILE_NAME)
            .to_owned();
        let mentioned_path = if mentioned_file.starts_with('/') {
            mentioned_file.clone()
        } else {
            format!("{}/{mentioned_file}", cwd.trim_end_matches('/'))
        };
        Self {
            cwd,
            mentioned_file,
            mentioned_path,
            model: request.model().to_owned(),
            last_user_text,
            vocabulary: Vocabulary::of(request.api(), &request.tool_names()),
        }
    }

    /// Whose tool names the reply uses.
    pub fn vocabulary(&self) -> Vocabulary {
        self.vocabulary
    }

    /// Replaces every known placeholder in `text`.
    pub fn render(&self, text: &str) -> String {
        if !text.contains("{{") {
            return text.to_owned();
        }
        text.replace("{{cwd}}", &self.cwd)
            .replace("{{mentionedFile}}", &self.mentioned_file)
            .replace("{{mentionedPath}}", &self.mentioned_path)
            .replace("{{lastUserText}}", &self.last_user_text)
            .replace("{{model}}", &self.model)
    }

    /// Replaces placeholders in every string of a JSON value (keys are left alone).
    pub fn render_json(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.render(text)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.render_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, v)| (key.clone(), self.render_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// The first word that looks like a file name: a dot between word characters, and not a
/// URL. Surrounding quotes and punctuation are ignored.
pub fn find_mentioned_file(text: &str) -> Option<&str> {
    text.split_whitespace()
        .map(|word| {
            word.trim_matches(|c: char| {
                matches!(
                    c,
                    '"' | '\'' | '`' | ',' | ';' | ':' | '!' | '?' | '(' | ')' | '.'
                )
            })
        })
        .find(|word| looks_like_file_name(word))
}

fn looks_like_file_name(word: &str) -> bool {
    if word.contains("://") {
        return false;
    }
    let file = word.rsplit('/').next().unwrap_or(word);
    let Some((stem, ext)) = file.rsplit_once('.') else {
        return false;
    };
    let wordy = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    wordy(stem) && wordy(ext) && ext.chars().any(char::is_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::MessagesRequest;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn finds_file_names_in_prompts() {
        assert_eq!(find_mentioned_file("create hello.txt"), Some("hello.txt"));
        assert_eq!(
            find_mentioned_file("please write \"notes.md\"."),
            Some("notes.md")
        );
        assert_eq!(
            find_mentioned_file("make src/main.rs now"),
            Some("src/main.rs")
        );
        assert_eq!(find_mentioned_file("see https://x.io and v1.2"), None);
        assert_eq!(find_mentioned_file("create a file. Thanks"), None);
    }

    #[test]
    fn renders_placeholders_in_nested_json() {
        let body = json!({
            "model": "claude-x",
            "messages": [
                {"role": "user", "content": "create notes.md"},
                {"role": "system", "content": " - Primary working directory: /ws\n"}
            ]
        });
        let context =
            TemplateContext::from_request(&ModelRequest::Anthropic(MessagesRequest::new(&body)));
        let input = json!({"file_path": "{{cwd}}/{{mentionedFile}}", "n": 1, "v": ["{{model}}"]});
        assert_eq!(
            context.render_json(&input),
            json!({"file_path": "/ws/notes.md", "n": 1, "v": ["claude-x"]})
        );
        assert_eq!(context.render("{{mentionedPath}}"), "/ws/notes.md");
        assert_eq!(
            context.render("said: {{lastUserText}}"),
            "said: create notes.md"
        );
    }
}
