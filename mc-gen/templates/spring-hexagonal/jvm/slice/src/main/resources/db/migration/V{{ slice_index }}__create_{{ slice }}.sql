-- The {{ slice }} slice's table. One migration file per change; never edit an applied one.
CREATE TABLE {{ slice }} (
    id    UUID PRIMARY KEY,
    title VARCHAR(200) NOT NULL,
    done  BOOLEAN NOT NULL DEFAULT FALSE
);
