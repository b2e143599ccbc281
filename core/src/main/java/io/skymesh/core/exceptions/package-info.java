/**
 * The typed errors of Skymesh, and {@link io.skymesh.core.exceptions.Statuses}, the one place that
 * maps wire statuses to them and back.
 */
package io.skymesh.core.exceptions;
