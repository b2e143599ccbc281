/**
 * election (skymesh's election demo): two candidates campaign for one service, and a watcher tells
 * each new leader to resign, so leadership flips between them with a growing term.
 */
package io.skymesh.examples.election;
