package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// listings bounds how often consistent reads the ruleset again because it changed meanwhile,
// backing off between reads up to maxBackoff so that busy writers leave it a quiet moment.
const (
	listings   = 30
	maxBackoff = 50 * time.Millisecond
)

// consistent runs list, which reads the ruleset in several netlink dumps, until no commit
// happened while it ran. A commit during a dump can make it skip or repeat rules; the kernel
// flags such a dump (NLM_F_DUMP_INTR), but google/nftables drops the flag, so berth compares
// the ruleset's generation, which every commit bumps, before and after. Without this a rule
// of the owner berth is replacing could be missed and left behind as a duplicate while other
// berth processes change their own rules.
func consistent(list func() error) error {
	nl, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return fmt.Errorf("opening a netfilter netlink socket: %w", err)
	}
	defer func() { _ = nl.Close() }()
	backoff := time.Millisecond
	for i := range listings {
		if i > 0 {
			time.Sleep(backoff/2 + rand.N(backoff))
			backoff = min(2*backoff, maxBackoff)
		}
		before, err := generation(nl)
		if err != nil {
			return err
		}
		if err := list(); err != nil {
			return err
		}
		after, err := generation(nl)
		if err != nil {
			return err
		}
		if before == after {
			return nil
		}
	}
	return errors.New("the nftables ruleset kept changing while berth read it")
}

// generation asks for the ruleset's generation id (NFT_MSG_GETGEN).
func generation(nl *netlink.Conn) (uint32, error) {
	msgs, err := nl.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN),
			Flags: netlink.Request,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0}, // struct nfgenmsg
	})
	if err != nil {
		return 0, fmt.Errorf("reading the nftables generation: %w", err)
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, fmt.Errorf("reading the nftables generation: %w", err)
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
	}
	return 0, errors.New("reading the nftables generation: no generation id in the answer")
}
