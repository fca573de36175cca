-- The Dataverse tables the backup reads, with Dataverse's own column names,
-- types and NOT NULL constraints: the 4.10 flyway baseline
-- (V1__flyway_schema_baseline.sql) plus the later migrations that touch
-- them (4.19 multistore storage identifiers, 5.0 dataset.storagedriver,
-- 4.20 datatable.originalfilename, 5.5 the storage identifier index,
-- 5.6 datafile.embargo_id). Foreign keys to tables the backup never reads
-- (authenticateduser, guestbook, datasetfieldtype, ...) are left out.

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
    CONSTRAINT unq_dvobject_0 UNIQUE (authority, protocol, identifier)
);
CREATE INDEX index_dvobject_dtype ON dvobject (dtype);
CREATE INDEX index_dvobject_owner_id ON dvobject (owner_id);
CREATE UNIQUE INDEX unq_dvobject_storageidentifier ON dvobject (owner_id, storageidentifier) WHERE dtype = 'DataFile';

CREATE TABLE harvestingclient (
    id serial NOT NULL CONSTRAINT harvestingclient_pkey PRIMARY KEY,
    archivedescription text,
    archiveurl varchar(255),
    deleted boolean,
    harveststyle varchar(255),
    harvesttype varchar(255),
    harvestingnow boolean,
    harvestingset varchar(255),
    harvestingurl varchar(255),
    metadataprefix varchar(255),
    name varchar(255) NOT NULL CONSTRAINT harvestingclient_name_key UNIQUE,
    scheduledayofweek integer,
    schedulehourofday integer,
    scheduleperiod varchar(255),
    scheduled boolean,
    dataverse_id bigint CONSTRAINT fk_harvestingclient_dataverse_id REFERENCES dvobject
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
    storagedriver varchar(255)
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
    embargo_id bigint
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
    originalfilename varchar(255)
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
