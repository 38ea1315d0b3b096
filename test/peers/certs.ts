import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const VALID_DAYS = '2';

/** Paths of the PEM files a test control plane needs; all live in the directory passed to createCertificates. */
export interface ControlPlaneCerts {
  /** Signs the API server's serving certificate; clients trust it. */
  servingCaCert: string;
  servingCert: string;
  servingKey: string;
  /** The API server's --client-ca-file. */
  clientCaCert: string;
  clientCaKey: string;
  /** CN=admin, O=system:masters. */
  adminCert: string;
  adminKey: string;
  serviceAccountPublicKey: string;
  serviceAccountPrivateKey: string;
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim()}`, { cause: error });
  }
}

// Our own config so the system openssl.cnf adds no extensions of its own.
async function writeConfig(path: string, cn: string, org: string | undefined, extensions: string): Promise<void> {
  const dn = [`CN = ${cn}`, ...(org === undefined ? [] : [`O = ${org}`])].join('\n');
  await writeFile(path, `[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n${dn}\n[ext]\n${extensions}\n`);
}

async function createCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const config = join(dir, `${name}.cnf`);
  await writeConfig(
    config,
    `tsd-test-${name}`,
    undefined,
    [
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
      'subjectKeyIdentifier = hash',
    ].join('\n'),
  );
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  await openssl(['req', '-x509', '-new', '-key', key, '-out', cert, '-days', VALID_DAYS, '-config', config, '-extensions', 'ext']);
  return { cert, key };
}

async function createLeaf(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  subject: { cn: string; org?: string },
  extensions: string,
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const csr = join(dir, `${name}.csr`);
  const config = join(dir, `${name}.cnf`);
  await writeConfig(config, subject.cn, subject.org, extensions);
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  await openssl(['req', '-new', '-key', key, '-out', csr, '-config', config]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    VALID_DAYS,
    '-extfile',
    config,
    '-extensions',
    'ext',
  ]);
  return { cert, key };
}

/**
 * A serving CA and cert (127.0.0.1, localhost and `address`), a client CA and admin cert, and a service-account RSA
 * key pair.
 */
export async function createCertificates(dir: string, address = '127.0.0.1'): Promise<ControlPlaneCerts> {
  const leafUsage = 'basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature';
  const serviceAccountPrivateKey = join(dir, 'service-account.key');
  const serviceAccountPublicKey = join(dir, 'service-account.pub');
  const serviceAccountKeys = openssl([
    'genpkey',
    '-algorithm',
    'RSA',
    '-pkeyopt',
    'rsa_keygen_bits:2048',
    '-out',
    serviceAccountPrivateKey,
  ]).then(() => openssl(['pkey', '-in', serviceAccountPrivateKey, '-pubout', '-out', serviceAccountPublicKey]));
  const [servingCa, clientCa] = await Promise.all([createCa(dir, 'serving-ca'), createCa(dir, 'client-ca')]);
  const [serving, admin] = await Promise.all([
    createLeaf(
      dir,
      'apiserver',
      servingCa,
      { cn: 'kube-apiserver' },
      `${leafUsage}\nextendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1${address === '127.0.0.1' ? '' : `, IP:${address}`}, DNS:localhost`,
    ),
    createLeaf(dir, 'admin', clientCa, { cn: 'admin', org: 'system:masters' }, `${leafUsage}\nextendedKeyUsage = clientAuth`),
  ]);
  await serviceAccountKeys;
  return {
    servingCaCert: servingCa.cert,
    servingCert: serving.cert,
    servingKey: serving.key,
    clientCaCert: clientCa.cert,
    clientCaKey: clientCa.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    serviceAccountPublicKey,
    serviceAccountPrivateKey,
  };
}

/** For StoreAPI over TLS: a CA with a serving cert per name, a client cert (mTLS), and an unrelated CA. */
export interface StoreTlsCerts {
  caCert: string;
  /** Trusts nothing the stores present. */
  otherCaCert: string;
  servers: Record<string, { cert: string; key: string }>;
  /** The same names, signed by the other CA. */
  untrustedServers: Record<string, { cert: string; key: string }>;
  clientCert: string;
  clientKey: string;
}

/** `servers` maps a file name to the DNS name its certificate is for. */
export async function createStoreTlsCertificates(dir: string, servers: Record<string, string>): Promise<StoreTlsCerts> {
  const leafUsage = 'basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature';
  const [ca, other] = await Promise.all([createCa(dir, 'store-ca'), createCa(dir, 'other-ca')]);
  const issue = (signer: { cert: string; key: string }, prefix: string) =>
    Promise.all(
      Object.entries(servers).map(
        async ([name, dns]) =>
          [
            name,
            await createLeaf(
              dir,
              `${prefix}-${name}`,
              signer,
              { cn: dns },
              `${leafUsage}\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:${dns}`,
            ),
          ] as const,
      ),
    );
  const [issued, untrusted] = await Promise.all([issue(ca, 'store'), issue(other, 'untrusted-store')]);
  const client = await createLeaf(dir, 'query-client', ca, { cn: 'thanos-query' }, `${leafUsage}\nextendedKeyUsage = clientAuth`);
  return {
    caCert: ca.cert,
    otherCaCert: other.cert,
    servers: Object.fromEntries(issued),
    untrustedServers: Object.fromEntries(untrusted),
    clientCert: client.cert,
    clientKey: client.key,
  };
}
