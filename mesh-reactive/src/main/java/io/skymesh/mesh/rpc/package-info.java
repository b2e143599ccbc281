/**
 * Request / response between mesh instances: {@link io.skymesh.mesh.rpc.Methods} registered with a
 * service, {@link io.skymesh.mesh.rpc.Reply} values, {@link io.skymesh.mesh.rpc.RequestOptions}
 * (deadline, headers), and client and server interceptors.
 */
package io.skymesh.mesh.rpc;
