/**
 * Spring Boot auto-configuration of a {@link io.skymesh.mesh.Mesh} from {@code skymesh.*}
 * properties, with the application's {@link io.skymesh.spring.boot.MeshEndpoint} beans registered
 * while the context runs.
 */
package io.skymesh.spring.boot;
