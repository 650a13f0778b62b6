"""An os-ken learning switch: the os-ken peer in bench/run_controller_bench.sh.

Run (os-ken ships no sample apps on Debian):
  /usr/bin/python3 /usr/bin/osken-manager --ofp-listen-host 127.0.0.1 \
      --ofp-tcp-listen-port PORT bench/oskenswitch.py

OpenFlow 1.0 and 1.3. Each PACKET_IN gets one answer: a FLOW_MOD that names
the packet's buffer when the destination MAC is known on another port, a
PACKET_OUT flooding the buffer otherwise (and a PACKET_OUT with the frame
after the FLOW_MOD when the packet came unbuffered). That is Ryu's
simple_switch / simple_switch_13 logic, except that it reads only the two
MAC addresses instead of parsing the whole frame with packet.Packet, so os-ken
is measured at its best, not handicapped by the sample's parser.
"""

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import addrconv
from os_ken.ofproto import ofproto_v1_0, ofproto_v1_3


class LearningSwitch(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_0.OFP_VERSION, ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mac_to_port = {}  # dpid -> {mac bytes: port}

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        dp = ev.msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        self.mac_to_port.pop(dp.id, None)
        if ofp.OFP_VERSION != ofproto_v1_3.OFP_VERSION:
            return  # a 1.0 switch sends table misses to the controller by itself
        actions = [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)]
        inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(parser.OFPFlowMod(datapath=dp, priority=0, match=parser.OFPMatch(),
                                      instructions=inst))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        frame = msg.data
        if len(frame) < 14:
            return
        dst, src = bytes(frame[0:6]), bytes(frame[6:12])
        v10 = ofp.OFP_VERSION == ofproto_v1_0.OFP_VERSION
        in_port = msg.in_port if v10 else msg.match['in_port']

        table = self.mac_to_port.setdefault(dp.id, {})
        if not src[0] & 1:
            table[src] = in_port
        out_port = ofp.OFPP_FLOOD if dst[0] & 1 else table.get(dst, ofp.OFPP_FLOOD)
        if out_port == in_port:
            return  # the destination is where the frame came from: drop it
        actions = [parser.OFPActionOutput(out_port)]
        buffered = msg.buffer_id != ofp.OFP_NO_BUFFER

        if out_port != ofp.OFPP_FLOOD:
            if v10:
                match = parser.OFPMatch(in_port=in_port, dl_dst=dst, dl_src=src)
                mod = parser.OFPFlowMod(datapath=dp, match=match, cookie=0,
                                        command=ofp.OFPFC_ADD,
                                        priority=ofp.OFP_DEFAULT_PRIORITY,
                                        buffer_id=msg.buffer_id, actions=actions)
            else:
                match = parser.OFPMatch(in_port=in_port,
                                        eth_dst=addrconv.mac.bin_to_text(dst),
                                        eth_src=addrconv.mac.bin_to_text(src))
                inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
                mod = parser.OFPFlowMod(datapath=dp, priority=1, match=match,
                                        instructions=inst, buffer_id=msg.buffer_id)
            dp.send_msg(mod)
            if buffered:
                return  # the FLOW_MOD releases the buffered packet

        dp.send_msg(parser.OFPPacketOut(datapath=dp, buffer_id=msg.buffer_id, in_port=in_port,
                                        actions=actions,
                                        data=None if buffered else msg.data))
