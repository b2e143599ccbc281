package io.skymesh.mesh;

import io.skymesh.core.ServiceUrl;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.List;

/**
 * A persistent treap of instances ordered by url: inserting, replacing and removing copy only the
 * path to the change (expected depth about {@code 2.5 ln n}, 29 at 100,000), so every older tree
 * stays valid and shares the rest. Priorities are a mixed hash of the url, so a tree's shape
 * depends only on its urls, whatever the order of the changes that made it.
 */
final class InstanceTree {

  /** Instances of one service compare by instance id alone (no string built per comparison). */
  static final Comparator<ServiceUrl> ORDER =
      (a, b) ->
          a.serviceName().equals(b.serviceName())
              ? a.instanceId().compareTo(b.instanceId())
              : a.compareTo(b);

  private InstanceTree() {}

  /** One node; {@code null} is the empty tree. */
  static final class Node {
    final Instance instance;
    final long priority;
    final Node left;
    final Node right;

    Node(Instance instance, long priority, Node left, Node right) {
      this.instance = instance;
      this.priority = priority;
      this.left = left;
      this.right = right;
    }
  }

  static long priority(ServiceUrl url) {
    long k = url.instanceId().hashCode() * 0x9E3779B97F4A7C15L + url.serviceName().hashCode();
    k ^= k >>> 33;
    k *= 0xff51afd7ed558ccdL;
    k ^= k >>> 33;
    k *= 0xc4ceb9fe1a85ec53L;
    k ^= k >>> 33;
    return k;
  }

  /** The tree with {@code instance} added, or replacing the instance of its url. */
  static Node put(Node node, Instance instance) {
    if (node == null) {
      return new Node(instance, priority(instance.url()), null, null);
    }
    int order = ORDER.compare(instance.url(), node.instance.url());
    if (order == 0) {
      return new Node(instance, node.priority, node.left, node.right);
    }
    if (order < 0) {
      Node left = put(node.left, instance);
      if (left.priority > node.priority) { // rotate right
        return new Node(
            left.instance,
            left.priority,
            left.left,
            new Node(node.instance, node.priority, left.right, node.right));
      }
      return new Node(node.instance, node.priority, left, node.right);
    }
    Node right = put(node.right, instance);
    if (right.priority > node.priority) { // rotate left
      return new Node(
          right.instance,
          right.priority,
          new Node(node.instance, node.priority, node.left, right.left),
          right.right);
    }
    return new Node(node.instance, node.priority, node.left, right);
  }

  /** The tree without {@code url}; the same tree if it is not there. */
  static Node remove(Node node, ServiceUrl url) {
    if (node == null) {
      return null;
    }
    int order = ORDER.compare(url, node.instance.url());
    if (order == 0) {
      return merge(node.left, node.right);
    }
    if (order < 0) {
      Node left = remove(node.left, url);
      return left == node.left ? node : new Node(node.instance, node.priority, left, node.right);
    }
    Node right = remove(node.right, url);
    return right == node.right ? node : new Node(node.instance, node.priority, node.left, right);
  }

  /** Joins two trees whose every url of {@code a} is below every url of {@code b}. */
  private static Node merge(Node a, Node b) {
    if (a == null) {
      return b;
    }
    if (b == null) {
      return a;
    }
    if (a.priority > b.priority) {
      return new Node(a.instance, a.priority, a.left, merge(a.right, b));
    }
    return new Node(b.instance, b.priority, merge(a, b.left), b.right);
  }

  /**
   * The tree of instances already sorted by url with distinct urls, in linear time: the Cartesian
   * tree of their priorities, the same tree that inserting them one by one would give.
   */
  static Node build(List<Instance> sorted) {
    int n = sorted.size();
    long[] priorities = new long[n];
    int[] left = new int[n];
    int[] right = new int[n];
    int[] stack = new int[n];
    int top = -1;
    for (int i = 0; i < n; i++) {
      priorities[i] = priority(sorted.get(i).url());
      left[i] = -1;
      right[i] = -1;
      int last = -1;
      while (top >= 0 && priorities[stack[top]] < priorities[i]) {
        last = stack[top--];
      }
      left[i] = last;
      if (top >= 0) {
        right[stack[top]] = i;
      }
      stack[++top] = i;
    }
    return top < 0 ? null : freeze(sorted, priorities, left, right, stack[0]);
  }

  private static Node freeze(
      List<Instance> sorted, long[] priorities, int[] left, int[] right, int i) {
    return new Node(
        sorted.get(i),
        priorities[i],
        left[i] < 0 ? null : freeze(sorted, priorities, left, right, left[i]),
        right[i] < 0 ? null : freeze(sorted, priorities, left, right, right[i]));
  }

  /** Writes the instances in url order into {@code out}, which has room for all of them. */
  static void copyInto(Node root, Instance[] out) {
    ArrayDeque<Node> path = new ArrayDeque<>();
    int at = 0;
    Node node = root;
    while (node != null || !path.isEmpty()) {
      while (node != null) {
        path.push(node);
        node = node.left;
      }
      node = path.pop();
      out[at++] = node.instance;
      node = node.right;
    }
  }
}
