-- The Dataverse tables the backup reads, with Dataverse's own column names,
-- types and NOT NULL constraints as a current Dataverse (6.x) has them:
-- scripts/database/create/create_v4.12.sql, the last full schema script
-- IQSS/dataverse published (its Flyway baseline,
-- V1__flyway_schema_baseline.sql, holds no tables: EclipseLink creates
-- them from the JPA entities), plus every migration in
-- src/main/resources/db/migration that touches these tables, up to 6.10
-- (checked against IQSS/dataverse b485249231): 4.19 multistore storage
-- identifiers, 4.20 datatable.originalfilename, 5.0 dataset.storagedriver,
-- 5.5 the storage identifier index and dataset.metadatalanguage, 5.6
-- dataset.externallabelsetname, 5.7 datafile.embargo_id, 5.11 the '..'
-- check and dataset.template_id, 5.12 and 6.x the harvesting client's
-- columns, 6.0 dataset.guestbookatrequest and embargocitationdate and
-- dvobject.previewimagefail, 6.1 datatable.storedwithvariableheader and
-- dataset.pidgeneratorspecs, 6.2 datafile.retention_id, 6.3
-- dataset.datasettype_id (NOT NULL, the dataset type 'dataset'), 6.4 the
-- case-insensitive identifier index, 6.5 dvobject.separator, 6.6
-- dataset.datasetfilecountlimit. Where the entity and the migration
-- differ (datatable.storedwithvariableheader: NOT NULL in the entity,
-- DEFAULT false in the migration) both are kept. Foreign keys to tables
-- the backup never reads (authenticateduser, guestbook, template,
-- embargo, datasetfieldtype, ...) are left out.

CREATE TABLE datasettype (
    id serial NOT NULL CONSTRAINT datasettype_pkey PRIMARY KEY,
    name varchar(255) NOT NULL CONSTRAINT datasettype_name_key UNIQUE,
    displayname varchar(255) NOT NULL DEFAULT '',
    description varchar(255)
);
INSERT INTO datasettype (name, displayname, description)
    VALUES ('dataset', 'Dataset', 'A study, experiment, set of observations, or publication. A dataset can comprise a single file or multiple files.');

CREATE TABLE dvobject (
    id serial NOT NULL CONSTRAINT dvobject_pkey PRIMARY KEY,
    dtype varchar(31),
    authority varchar(255),
    createdate timestamp NOT NULL,
    globalidcreatetime timestamp,
    identifier varchar(255),
    identifierregistered boolean,
    indextime timestamp,
    modificationtime timestamp NOT NULL,
    permissionindextime timestamp,
    permissionmodificationtime timestamp,
    previewimageavailable boolean,
    protocol varchar(255),
    publicationdate timestamp,
    storageidentifier varchar(255),
    creator_id bigint,
    owner_id bigint CONSTRAINT fk_dvobject_owner_id REFERENCES dvobject,
    releaseuser_id bigint,
    previewimagefail boolean DEFAULT false,
    separator varchar(255) DEFAULT '',
    CONSTRAINT unq_dvobject_0 UNIQUE (authority, protocol, identifier),
    CONSTRAINT chk_dvobject_storageidentifier CHECK (strpos(storageidentifier, '..') = 0)
);
CREATE INDEX index_dvobject_dtype ON dvobject (dtype);
CREATE INDEX index_dvobject_owner_id ON dvobject (owner_id);
CREATE UNIQUE INDEX unq_dvobject_storageidentifier ON dvobject (owner_id, storageidentifier) WHERE dtype = 'DataFile';
CREATE UNIQUE INDEX index_dvobject_authority_protocol_upper_identifier ON dvobject (authority, protocol, upper(identifier));

CREATE TABLE harvestingclient (
    id serial NOT NULL CONSTRAINT harvestingclient_pkey PRIMARY KEY,
    archivedescription text,
    archiveurl varchar(255),
    deleted boolean,
    harveststyle varchar(255),
    harvesttype varchar(255),
    harvestingnow boolean,
    harvestingset text,
    harvestingurl varchar(255),
    metadataprefix varchar(255),
    name varchar(255) NOT NULL CONSTRAINT harvestingclient_name_key UNIQUE,
    scheduledayofweek integer,
    schedulehourofday integer,
    scheduleperiod varchar(255),
    scheduled boolean,
    dataverse_id bigint CONSTRAINT fk_harvestingclient_dataverse_id REFERENCES dvobject,
    customhttpheaders text,
    allowharvestingmissingcvv boolean,
    useoaiidaspid boolean DEFAULT false,
    sourcename text,
    uselistrecords boolean DEFAULT false
);

CREATE TABLE dataset (
    id bigint NOT NULL CONSTRAINT dataset_pkey PRIMARY KEY CONSTRAINT fk_dataset_id REFERENCES dvobject,
    fileaccessrequest boolean,
    harvestidentifier varchar(255),
    lastexporttime timestamp,
    usegenericthumbnail boolean,
    citationdatedatasetfieldtype_id bigint,
    harvestingclient_id bigint CONSTRAINT fk_dataset_harvestingclient_id REFERENCES harvestingclient,
    guestbook_id bigint,
    thumbnailfile_id bigint CONSTRAINT fk_dataset_thumbnailfile_id REFERENCES dvobject,
    storagedriver varchar(255),
    metadatalanguage text,
    externallabelsetname varchar(32),
    template_id bigint,
    guestbookatrequest boolean,
    embargocitationdate timestamp,
    pidgeneratorspecs text,
    datasettype_id bigint NOT NULL CONSTRAINT fk_dataset_datasettype_id REFERENCES datasettype,
    datasetfilecountlimit bigint
);

CREATE TABLE datafile (
    id bigint NOT NULL CONSTRAINT datafile_pkey PRIMARY KEY CONSTRAINT fk_datafile_id REFERENCES dvobject,
    checksumtype varchar(255) NOT NULL,
    checksumvalue varchar(255) NOT NULL,
    contenttype varchar(255) NOT NULL,
    filesize bigint,
    ingeststatus char,
    previousdatafileid bigint,
    prov_entityname text,
    restricted boolean,
    rootdatafileid bigint NOT NULL,
    embargo_id bigint,
    retention_id bigint
);
CREATE INDEX index_datafile_checksumvalue ON datafile (checksumvalue);

CREATE TABLE datatable (
    id serial NOT NULL CONSTRAINT datatable_pkey PRIMARY KEY,
    casequantity bigint,
    originalfileformat varchar(255),
    originalformatversion varchar(255),
    recordspercase bigint,
    unf varchar(255) NOT NULL,
    varquantity bigint,
    datafile_id bigint NOT NULL CONSTRAINT fk_datatable_datafile_id REFERENCES dvobject,
    originalfilesize bigint,
    originalfilename varchar(255),
    storedwithvariableheader boolean NOT NULL DEFAULT false
);
CREATE INDEX index_datatable_datafile_id ON datatable (datafile_id);

CREATE TABLE alternativepersistentidentifier (
    id serial NOT NULL CONSTRAINT alternativepersistentidentifier_pkey PRIMARY KEY,
    authority varchar(255),
    globalidcreatetime timestamp,
    identifier varchar(255),
    identifierregistered boolean,
    protocol varchar(255),
    storagelocationdesignator boolean,
    dvobject_id bigint NOT NULL CONSTRAINT fk_alternativepersistentidentifier_dvobject_id REFERENCES dvobject
);
