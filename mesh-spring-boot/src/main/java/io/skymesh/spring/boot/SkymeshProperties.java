package io.skymesh.spring.boot;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code skymesh.*} properties: how the application's {@link io.skymesh.mesh.Mesh} is built.
 * Only {@code skymesh.app-id} is required; without it nothing is auto-configured.
 *
 * <pre>
 * skymesh.app-id=game
 * skymesh.name-servers=10.0.0.1:9099,10.0.0.2:9099,10.0.0.3:9099
 * skymesh.close-timeout=10s
 * </pre>
 */
@ConfigurationProperties("skymesh")
public class SkymeshProperties {

  private String appId;
  private String nameServer = "127.0.0.1:9099";
  private String nameServers;
  private String host = "127.0.0.1";
  private int port;
  private Duration sessionTtl = Duration.ofSeconds(10);
  private Duration requestTimeout = Duration.ofSeconds(10);
  private Duration startTimeout = Duration.ofSeconds(30);
  private Duration closeTimeout = Duration.ofSeconds(10);
  private String advertisedAddress;
  private String token;
  private final NameServerTls nameServerTls = new NameServerTls();
  private final PeerTls peerTls = new PeerTls();
  private boolean peerTickets;

  /** Creates the properties with their defaults. */
  public SkymeshProperties() {}

  /** The application the mesh acts for; every endpoint's ServiceUrl must belong to it. */
  public String getAppId() {
    return appId;
  }

  /** Sets {@link #getAppId()}. */
  public void setAppId(String appId) {
    this.appId = appId;
  }

  /** The name server, {@code host:port}; default {@code 127.0.0.1:9099}. */
  public String getNameServer() {
    return nameServer;
  }

  /** Sets {@link #getNameServer()}. */
  public void setNameServer(String nameServer) {
    this.nameServer = nameServer;
  }

  /**
   * The nodes of a name-server cluster, {@code host:port[,host:port...]}; when set, it replaces
   * {@link #getNameServer()}. The mesh moves to another node when its node dies or stops answering
   * (see {@code MeshBuilder.nameServers}). Not set by default.
   */
  public String getNameServers() {
    return nameServers;
  }

  /** Sets {@link #getNameServers()}. */
  public void setNameServers(String nameServers) {
    this.nameServers = nameServers;
  }

  /** The host the mesh's peer listener binds to and registers; default {@code 127.0.0.1}. */
  public String getHost() {
    return host;
  }

  /** Sets {@link #getHost()}. */
  public void setHost(String host) {
    this.host = host;
  }

  /** The peer listener's port; default 0, any free port. */
  public int getPort() {
    return port;
  }

  /** Sets {@link #getPort()}. */
  public void setPort(int port) {
    this.port = port;
  }

  /** The name-server session's time to live; default 10 s. */
  public Duration getSessionTtl() {
    return sessionTtl;
  }

  /** Sets {@link #getSessionTtl()}. */
  public void setSessionTtl(Duration sessionTtl) {
    this.sessionTtl = sessionTtl;
  }

  /** How long a name-server request (and a router's first view) may take; default 10 s. */
  public Duration getRequestTimeout() {
    return requestTimeout;
  }

  /** Sets {@link #getRequestTimeout()}. */
  public void setRequestTimeout(Duration requestTimeout) {
    this.requestTimeout = requestTimeout;
  }

  /** How long starting the mesh and registering the endpoints may take; default 30 s. */
  public Duration getStartTimeout() {
    return startTimeout;
  }

  /** Sets {@link #getStartTimeout()}. */
  public void setStartTimeout(Duration startTimeout) {
    this.startTimeout = startTimeout;
  }

  /** The graceful close's timeout when the context stops; default 10 s. */
  public Duration getCloseTimeout() {
    return closeTimeout;
  }

  /** Sets {@link #getCloseTimeout()}. */
  public void setCloseTimeout(Duration closeTimeout) {
    this.closeTimeout = closeTimeout;
  }

  /**
   * The address peers dial, {@code host:port} (port 0 for the bound one), when {@link #getHost()}
   * is a wildcard or the process is behind NAT; not set by default (the host and bound port).
   */
  public String getAdvertisedAddress() {
    return advertisedAddress;
  }

  /** Sets {@link #getAdvertisedAddress()}. */
  public void setAdvertisedAddress(String advertisedAddress) {
    this.advertisedAddress = advertisedAddress;
  }

  /**
   * The token of the name-server session, when the name server requires one; not set by default.
   */
  public String getToken() {
    return token;
  }

  /** Sets {@link #getToken()}. */
  public void setToken(String token) {
    this.token = token;
  }

  /** TLS to the name server: {@code skymesh.name-server-tls.*}. */
  public NameServerTls getNameServerTls() {
    return nameServerTls;
  }

  /** TLS between peers: {@code skymesh.peer-tls.*}. */
  public PeerTls getPeerTls() {
    return peerTls;
  }

  /**
   * Whether the mesh proves its app to peers with a ticket of the name server, and requires one of
   * them ({@code MeshBuilder.requirePeerTickets()}); false by default.
   */
  public boolean isPeerTickets() {
    return peerTickets;
  }

  /** Sets {@link #isPeerTickets()}. */
  public void setPeerTickets(boolean peerTickets) {
    this.peerTickets = peerTickets;
  }

  /**
   * PEM files of a TLS configuration: the authorities trusted ({@code ca}; the JVM's when not set)
   * and a certificate chain with its private key ({@code cert}, {@code key}).
   */
  public static class PemFiles {

    private String ca;
    private String cert;
    private String key;

    /** Creates the defaults: no files. */
    public PemFiles() {}

    /** The authorities to trust (PEM), instead of the JVM's. */
    public String getCa() {
      return ca;
    }

    /** Sets {@link #getCa()}. */
    public void setCa(String ca) {
      this.ca = ca;
    }

    /** The certificate chain (PEM). */
    public String getCert() {
      return cert;
    }

    /** Sets {@link #getCert()}. */
    public void setCert(String cert) {
      this.cert = cert;
    }

    /** The certificate's private key (PKCS#8 PEM). */
    public String getKey() {
      return key;
    }

    /** Sets {@link #getKey()}. */
    public void setKey(String key) {
      this.key = key;
    }

    /** Whether any file is set. */
    boolean anyFile() {
      return ca != null || cert != null || key != null;
    }
  }

  /**
   * {@code skymesh.name-server-tls.*}: TLS to the name server, from PEM files. Enabled by {@code
   * enabled=true} or by any file; the JVM's authorities are trusted unless {@code ca} is set;
   * {@code cert} and {@code key} present a client certificate, for mutual TLS.
   */
  public static class NameServerTls extends PemFiles {

    private boolean enabled;

    /** Creates the defaults: plaintext. */
    public NameServerTls() {}

    /** Whether the mesh connects to the name server with TLS. */
    public boolean isEnabled() {
      return enabled || anyFile();
    }

    /** Sets {@link #isEnabled()}. */
    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }
  }

  /**
   * {@code skymesh.peer-tls.*}: TLS between peers, from PEM files ({@code MeshBuilder.peerTls}).
   * Enabled by {@code cert} and {@code key}, this process's certificate, presented to the peers
   * that dial it and, with {@code mutual} (the default), to the peers it dials. Peers' certificates
   * are checked against {@code ca}, or the JVM's authorities when it is not set.
   */
  public static class PeerTls extends PemFiles {

    private boolean mutual = true;

    /** Creates the defaults: plaintext. */
    public PeerTls() {}

    /** Whether peers speak TLS: a certificate or a key is set. */
    public boolean isEnabled() {
      return getCert() != null || getKey() != null;
    }

    /** Whether both sides of each connection present a certificate; true by default. */
    public boolean isMutual() {
      return mutual;
    }

    /** Sets {@link #isMutual()}. */
    public void setMutual(boolean mutual) {
      this.mutual = mutual;
    }
  }
}
