"""The recording database: schema, the read side, body pieces, the index, retention."""
