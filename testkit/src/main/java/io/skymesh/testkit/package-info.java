/**
 * The test harness every Skymesh module uses: leaked Netty buffers fail the test that leaked them,
 * and BlockHound is installed in every test JVM.
 */
package io.skymesh.testkit;
