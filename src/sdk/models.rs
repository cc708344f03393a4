//! Loading what the engine computes with (the encoder, catalog vectors, a session model, segments), each
//! checked against the others whichever comes first: they must all speak of the same vectors (one
//! encoder, one length), or scores and segments would be silently meaningless.

use std::rc::Rc;

use super::Vitrine;
use crate::catalog::Catalog;
use crate::copy::Segments;
use crate::error::{Error, Result};
use crate::model::{Encoder, SessionModel};

impl Vitrine {
    /// Uses `encoder` for titles and queries. A loaded session model must read its vectors and loaded
    /// segments must come from it (else an error, and nothing changes); a loaded catalog made by another
    /// encoder is dropped: vectors from two models are not comparable.
    pub fn set_encoder(&mut self, encoder: Encoder) -> Result<()> {
        self.check_models(encoder.checksum(), encoder.dims())?;
        self.vectors.set_model(encoder.checksum(), encoder.dims());
        self.encoder = Some(Rc::new(encoder));
        Ok(())
    }

    /// Adds precomputed product vectors; returns how many the engine now has from catalog files.
    pub fn load_catalog(&mut self, catalog: &Catalog) -> Result<usize> {
        if let Some(enc) = &self.encoder {
            if catalog.model_checksum() != enc.checksum() || catalog.dims() != enc.dims() {
                return Err(Error::Catalog(format!(
                    "its vectors were made by encoder {} ({} dims), but the loaded encoder is {} ({} dims)",
                    &catalog.model_checksum()[..12],
                    catalog.dims(),
                    &enc.checksum()[..12],
                    enc.dims()
                )));
            }
        }
        self.check_models(&catalog.model_checksum(), catalog.dims())?;
        self.vectors.add_catalog(catalog)
    }

    /// The loaded encoder, shared: a GPU backend attaches to it and encodes beside the engine.
    pub fn encoder(&self) -> Option<Rc<Encoder>> {
        self.encoder.clone()
    }

    /// Uses a trained session model for forYou; it must read the vectors of the loaded encoder (or
    /// catalog), and an encoder loaded later must make them.
    pub fn set_session_model(&mut self, model: SessionModel) -> Result<()> {
        if let Some((_, dims)) = self.vectors.space() {
            check_session(&model, dims)?;
        }
        self.projected.clear();
        self.session = Some(model);
        Ok(())
    }

    /// Uses shipped segment centroids; they must come from the loaded encoder (or catalog), and an
    /// encoder loaded later must be the one they came from.
    pub fn set_segments(&mut self, segments: Segments) -> Result<()> {
        if let Some((checksum, dims)) = self.vectors.space() {
            check_segments(&segments, checksum, dims)?;
        }
        self.segments = Some(segments);
        Ok(())
    }

    /// Refuses vectors from encoder `checksum` (`dims` long) that the loaded session model or segments
    /// were not made for.
    fn check_models(&self, checksum: &str, dims: usize) -> Result<()> {
        if let Some(m) = &self.session {
            check_session(m, dims)?;
        }
        if let Some(s) = &self.segments {
            check_segments(s, checksum, dims)?;
        }
        Ok(())
    }
}

fn check_session(model: &SessionModel, dims: usize) -> Result<()> {
    if model.dims() != dims {
        return Err(Error::InvalidInput(format!(
            "the session model reads {}-dim vectors, the encoder makes {dims}; use a model trained on this encoder",
            model.dims()
        )));
    }
    Ok(())
}

fn check_segments(segments: &Segments, checksum: &str, dims: usize) -> Result<()> {
    let centroid_dims = segments.centroids.first().map_or(0, Vec::len);
    if segments.encoder != checksum || centroid_dims != dims {
        return Err(Error::InvalidInput(format!(
            "segments were made with encoder {} ({centroid_dims} dims), but the engine's vectors come from {} ({dims} dims); regenerate them with `vitrine segments`",
            segments.encoder.get(..12).unwrap_or(&segments.encoder),
            checksum.get(..12).unwrap_or(checksum),
        )));
    }
    Ok(())
}
