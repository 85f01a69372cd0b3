-- TLS to MySQL: the harness's MariaDB has a certificate from a throwaway CA
-- (regress/servers.sh); ssl_mode picks how much pypeline insists on.
CREATE FUNCTION tls_server(name text, mode text, ca text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER pypeline_mysql
	                OPTIONS (host %L, port %L, dbname %L, ssl_mode %L)',
	               name, '127.0.0.1', current_setting('pypeline_regress.mysql_port'),
	               'pypeline_regress', mode);
	IF ca IS NOT NULL THEN
		EXECUTE format('ALTER SERVER %I OPTIONS (ADD ssl_ca %L)', name,
		               current_setting('pypeline_regress.ssl_dir') || '/' || ca);
	END IF;
	EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER %I
	                OPTIONS (username %L, password %L)', name, 'etl', 'etl_secret');
END $$;
CREATE FUNCTION tls_cipher(server name) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN cipher = '' THEN 'none' ELSE 'encrypted' END
	FROM pypeline.query(server, 'SHOW SESSION STATUS LIKE ''Ssl_cipher''') AS t(name text, cipher text)
$$;

SELECT tls_server('tls_disabled', 'DISABLED');
SELECT tls_server('tls_preferred', 'PREFERRED');
SELECT tls_server('tls_required', 'REQUIRED');
SELECT tls_server('tls_verify_ca', 'VERIFY_CA', 'ca.pem');
SELECT tls_server('tls_verify_identity', 'VERIFY_IDENTITY', 'ca.pem');
SELECT tls_server('tls_wrong_ca', 'VERIFY_CA', 'other-ca.pem');
SELECT tls_server('tls_no_ca', 'VERIFY_CA');

SELECT s AS server, tls_cipher(s) FROM unnest(ARRAY['tls_disabled', 'tls_preferred', 'tls_required',
	'tls_verify_ca', 'tls_verify_identity']::name[]) s;
-- a certificate from another CA, or no CA to check against, is refused
SELECT tls_cipher('tls_wrong_ca');
SELECT tls_cipher('tls_no_ca');

DROP SERVER tls_disabled, tls_preferred, tls_required, tls_verify_ca, tls_verify_identity,
	tls_wrong_ca, tls_no_ca CASCADE;
DROP FUNCTION tls_server(text, text, text), tls_cipher(name);
