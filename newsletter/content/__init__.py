"""What the digests are made of: articles (validated, imported, fetched from feeds), their URLs' identity,
topic sections and the publication's weeks."""
