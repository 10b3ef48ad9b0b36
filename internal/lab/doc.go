// Package lab builds a cloud in Linux network namespaces and sends real
// packets through it: the kernel's ground truth for the policy engine.
//
// Topology of a lab named N (every namespace is named pl-N-…, nothing is
// touched in the machine's own namespace):
//
//	pl-N-vm-<id>    one per instance: eth0 holds the private IPv4 (/32) and
//	                the IPv6 (/128); default routes via 169.254.1.1 and
//	                fe80::1, link-local gateways answered by the host
//	                (Calico style: proxy ARP on the host side of the veth);
//	                <id> is '#' and a hash for an ID a name cannot hold
//	pl-N-host-<h>   one per host (the hypervisor, where the agent programs
//	                nftables): veth pi-… to each of its instances, fab0 to
//	                the fabric; routes other hosts' instances via their
//	                underlay address and everything else to the internet
//	pl-N-fab        a bridge joining hosts and the internet (underlay
//	                169.254.128.0/17 and IPv6 link-local addresses)
//	pl-N-inet       the internet: holds the outside addresses and the
//	                instances' public addresses, NATs public ↔ private
//
// Every router routes each private address once, so a lab holds each once
// (Validate); Spec.Split cuts a cloud whose VPCs share addresses into labs
// to play one after the other.
//
// The lab's own rules live in table palisade_lab (VPC isolation in the
// hosts, NAT in the internet); table palisade is left to the agent. MAC
// addresses are fixed and every neighbour entry is written ahead as
// permanent, so a lab of thousands of instances stays within the kernel's
// shared neighbour table limits.
//
// Probes run in-process: a socket is created on a thread switched into the
// source namespace and used from anywhere, so thousands take seconds.
// Delivered means the destination's kernel got the packet: a TCP SYN-ACK or
// RST, a UDP reply or port unreachable, an echo reply, a GRE packet read by
// a raw socket at the destination. Probe sends packets as they come;
// ProbeFlows sends flows as first packets of connections, batching apart
// those conntrack could tie together.
package lab
