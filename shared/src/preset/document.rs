//! The preset document: `{metadata, design, build}` plus extension objects (e.g. `"tailor"`).

use super::build::{Build, Limits};
use super::early::{self, EarlyReflections};
use super::error::PresetError;
use super::json::{kind_of, parse_text, reject_non_finite_tokens};
use super::mix;
use serde_json::{Map, Value};

/// Allowed design components and their allowed `type` values (pyFDN 0.5).
const DESIGN_TYPES: &[(&str, &[&str])] = &[
    ("delays", &["uniform", "geometric", "lognormal"]),
    (
        "feedback_matrix",
        &[
            "orthogonal",
            "hadamard",
            "kronecker",
            "householder",
            "circulant",
            "permutation",
            "diagonally_similar_to_orthogonal",
            "tiny_rotation",
            "anderson",
            "parallel",
        ],
    ),
    ("input_matrix", &["ones", "normalised", "identity"]),
    ("output_matrix", &["ones", "normalised", "identity"]),
    (
        "post_delay",
        &["graphic_eq", "first_order_shelf", "one_pole"],
    ),
    (
        "post_matrix",
        &["graphic_eq", "first_order_shelf", "one_pole"],
    ),
    (
        "post_output",
        &["graphic_eq", "first_order_shelf", "one_pole"],
    ),
];

/// A validated preset: metadata, design record, a validated [`Build`] and optional early
/// reflections (the `tailor.early` FIR, held typed; see [`crate::preset::early`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    metadata: Map<String, Value>,
    design: Map<String, Value>,
    build: Build,
    /// Extension objects; `tailor.early` is not in here but in `early`.
    extensions: Map<String, Value>,
    early: Option<EarlyReflections>,
}

impl Preset {
    /// A preset around `build` named `name`, with an empty design.
    pub fn from_build(build: Build, name: &str) -> Self {
        let mut metadata = Map::new();
        metadata.insert("name".into(), name.into());
        Self {
            metadata,
            design: Map::new(),
            build,
            extensions: Map::new(),
            early: None,
        }
    }

    /// Parses a preset document, or a bare build dict (v2 or v1), with default limits.
    pub fn from_json_str(text: &str) -> Result<Self, PresetError> {
        Self::from_json_str_with(text, &Limits::default())
    }

    /// Parses a preset document or a bare build dict with explicit limits.
    pub fn from_json_str_with(text: &str, limits: &Limits) -> Result<Self, PresetError> {
        Self::from_json_value(&parse_text(text)?, limits)
    }

    /// Reads a preset from a JSON value.
    pub fn from_json_value(v: &Value, limits: &Limits) -> Result<Self, PresetError> {
        let obj = v
            .as_object()
            .ok_or(PresetError::NotAnObject { found: kind_of(v) })?;
        if !obj.contains_key("build") {
            // A bare build dict: its own metadata becomes the preset's.
            if !obj.contains_key("format") && obj.contains_key("metadata") {
                return Err(PresetError::PresetFields {
                    missing: "build".into(),
                });
            }
            let build = Build::from_json_value(v, limits)?;
            let mut metadata = build.metadata().clone();
            metadata.entry("name").or_insert_with(|| "unnamed".into());
            let mut parts = build.into_parts();
            parts.metadata = Map::new();
            return Ok(Self {
                metadata,
                design: Map::new(),
                build: Build::with_limits(parts, limits)?,
                extensions: Map::new(),
                early: None,
            });
        }
        let metadata = match obj.get("metadata") {
            None => {
                return Err(PresetError::PresetFields {
                    missing: "metadata".into(),
                })
            }
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(PresetError::PresetType { field: "metadata" }),
        };
        let design = match obj.get("design") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(PresetError::PresetType { field: "design" }),
        };
        reject_non_finite_tokens("metadata", &Value::Object(metadata.clone()))?;
        reject_non_finite_tokens("design", &Value::Object(design.clone()))?;
        validate_design(&design)?;
        let build = match &obj["build"] {
            b @ Value::Object(_) => Build::from_json_value(b, limits)?,
            _ => return Err(PresetError::PresetType { field: "build" }),
        };
        let mut extensions = obj
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "design" | "build"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let build = mix::take_output_mix(&mut extensions, build, limits)?;
        let early = early::take_early(&mut extensions, &build)?;
        for (k, x) in &extensions {
            reject_non_finite_tokens(k, x)?;
        }
        Ok(Self {
            metadata,
            design,
            build,
            extensions,
            early,
        })
    }

    /// The document as JSON (`metadata`, `design`, `build`, then extensions).
    pub fn to_json_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("metadata".into(), Value::Object(self.metadata.clone()));
        m.insert("design".into(), Value::Object(self.design.clone()));
        m.insert("build".into(), self.build.to_json_value());
        let mut ext = early::with_early(&self.extensions, self.early.as_ref());
        mix::put_output_mix(&mut ext, &self.build);
        for (k, v) in ext {
            m.insert(k, v);
        }
        Value::Object(m)
    }

    /// The document as pretty JSON text (2-space indent, trailing newline).
    pub fn to_json_string(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.to_json_value())
            .expect("JSON values always serialise");
        s.push('\n');
        s
    }

    /// The preset's name (metadata.name), or "unnamed".
    pub fn name(&self) -> &str {
        self.metadata
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("unnamed")
    }
    /// Metadata object.
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }
    /// Mutable metadata object.
    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.metadata
    }
    /// Design record.
    pub fn design(&self) -> &Map<String, Value> {
        &self.design
    }
    /// Replaces the design record after validating it.
    pub fn set_design(&mut self, design: Map<String, Value>) -> Result<(), PresetError> {
        validate_design(&design)?;
        self.design = design;
        Ok(())
    }
    /// The validated build.
    pub fn build(&self) -> &Build {
        &self.build
    }
    /// Replaces the build. The early part is kept as is; renderers refuse it (naming
    /// `tailor.early.fir`) if its shape no longer matches the new build.
    pub fn set_build(&mut self, build: Build) {
        self.build = build;
    }
    /// Top-level objects other than metadata/design/build (kept on round trips); the
    /// `tailor.early` object is held typed ([`Preset::early`]) and is not in this map.
    pub fn extensions(&self) -> &Map<String, Value> {
        &self.extensions
    }
    /// Mutable extension objects (a `tailor.early` written here is replaced by
    /// [`Preset::early`] when the document is serialised).
    pub fn extensions_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.extensions
    }
    /// Early reflections (`tailor.early`): an FIR added to the FDN's output, if the preset has one.
    pub fn early(&self) -> Option<&EarlyReflections> {
        self.early.as_ref()
    }
    /// Sets or removes the early reflections after checking them against the build (shape
    /// `n_out × n_in`, a rate equal to the build's or resamplable to it). Removing them also
    /// drops a `tailor` extension left holding only its version, so the document is as before.
    pub fn set_early(&mut self, early: Option<EarlyReflections>) -> Result<(), PresetError> {
        if let Some(e) = &early {
            e.check_build(&self.build)?;
        }
        if early.is_none() {
            let only_version = self
                .extensions
                .get(early::TAILOR_KEY)
                .and_then(Value::as_object)
                .is_some_and(|m| m.keys().all(|k| k == "version"));
            if only_version {
                self.extensions.remove(early::TAILOR_KEY);
            }
        }
        self.early = early;
        Ok(())
    }
}

fn validate_design(design: &Map<String, Value>) -> Result<(), PresetError> {
    for (component, record) in design {
        let allowed = DESIGN_TYPES
            .iter()
            .find(|(name, _)| name == component)
            .map(|(_, t)| *t)
            .ok_or_else(|| PresetError::DesignComponent {
                component: component.clone(),
            })?;
        let record = record.as_object().ok_or_else(|| {
            PresetError::field(format!("design.{component}"), "must be an object")
        })?;
        if let Some(t) = record.get("type") {
            let found = t
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| t.to_string());
            if !allowed.contains(&found.as_str()) {
                return Err(PresetError::DesignType {
                    component: component.clone(),
                    found,
                    allowed: allowed.join(", "),
                });
            }
        }
    }
    Ok(())
}
