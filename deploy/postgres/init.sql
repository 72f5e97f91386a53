-- Roles of tenant-app, made once by the image's superuser on a new data folder (see README,
-- "Your own Postgres"). The owner creates the runtime roles itself, so it administers them.
CREATE ROLE tenant_app_owner LOGIN PASSWORD 'owner' CREATEROLE CREATEDB;
CREATE DATABASE tenant_app OWNER tenant_app_owner;
SET ROLE tenant_app_owner;
CREATE ROLE tenant_app_runtime NOLOGIN;
CREATE ROLE tenant_app_api LOGIN PASSWORD 'api' IN ROLE tenant_app_runtime;
RESET ROLE;
