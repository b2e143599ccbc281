/** The name server's storage on an etcd cluster, so that stateless nodes form one name service. */
package io.skymesh.nameserver.etcd;
