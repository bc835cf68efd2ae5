# shellcheck shell=bash disable=SC2034
# hosts.sh: the ONE table of the lab's services (docs/lab.md "Service addresses").
# Sourced by lib.sh. Every other script derives DNS records, nginx vhosts, certificates
# and censor targets from LAB_HOSTS, so adding a service (e.g. OONI's QA world) is one line.
#
# Columns: app  name  ipv4  ipv6  kind
#   app   target group for `keepon lab censor ... --target APP` ("-" = none, "control" = example.org)
#   name  DNS name ("-" for services addressed by IP only, e.g. Telegram data centres)
#   kind  web: HTTP 80 + HTTPS 443      wa: web + plain TCP 5222 (WhatsApp chat endpoints)
#         dc:  plain HTTP on 80 and 443 (Telegram DCs, POST answered)
#         reg: web + /v2/register (JSON)
#         svc: name, addresses and certificate only; the test brings its own server (collector)
LAB_HOSTS='
whatsapp e1.whatsapp.net 198.19.12.1 2001:db8:12::1 wa
whatsapp e2.whatsapp.net 198.19.12.2 2001:db8:12::2 wa
whatsapp e3.whatsapp.net 198.19.12.3 2001:db8:12::3 wa
whatsapp e4.whatsapp.net 198.19.12.4 2001:db8:12::4 wa
whatsapp e5.whatsapp.net 198.19.12.5 2001:db8:12::5 wa
whatsapp e6.whatsapp.net 198.19.12.6 2001:db8:12::6 wa
whatsapp e7.whatsapp.net 198.19.12.7 2001:db8:12::7 wa
whatsapp e8.whatsapp.net 198.19.12.8 2001:db8:12::8 wa
whatsapp e9.whatsapp.net 198.19.12.9 2001:db8:12::9 wa
whatsapp e10.whatsapp.net 198.19.12.10 2001:db8:12::a wa
whatsapp e11.whatsapp.net 198.19.12.11 2001:db8:12::b wa
whatsapp e12.whatsapp.net 198.19.12.12 2001:db8:12::c wa
whatsapp e13.whatsapp.net 198.19.12.13 2001:db8:12::d wa
whatsapp e14.whatsapp.net 198.19.12.14 2001:db8:12::e wa
whatsapp e15.whatsapp.net 198.19.12.15 2001:db8:12::f wa
whatsapp e16.whatsapp.net 198.19.12.16 2001:db8:12::10 wa
whatsapp v.whatsapp.net 198.19.12.100 2001:db8:12::100 reg
whatsapp web.whatsapp.com 198.19.12.101 2001:db8:12::101 web
telegram - 198.19.13.1 - dc
telegram - 198.19.13.2 - dc
telegram - 198.19.13.3 - dc
telegram - 198.19.13.4 - dc
telegram - 198.19.13.5 - dc
telegram - 198.19.13.6 - dc
telegram web.telegram.org 198.19.13.100 2001:db8:13::100 web
signal chat.signal.org 198.19.14.1 2001:db8:14::1 web
signal cdsi.signal.org 198.19.14.2 2001:db8:14::2 web
signal sfu.voip.signal.org 198.19.14.3 2001:db8:14::3 web
signal storage.signal.org 198.19.14.4 2001:db8:14::4 web
signal uptime.signal.org 198.19.14.5 2001:db8:14::5 web
facebook_messenger b-api.facebook.com 198.19.15.1 2001:db8:15::1 web
facebook_messenger b-graph.facebook.com 198.19.15.2 2001:db8:15::2 web
facebook_messenger edge-mqtt.facebook.com 198.19.15.3 2001:db8:15::3 web
facebook_messenger external.xx.fbcdn.net 198.19.15.4 2001:db8:15::4 web
facebook_messenger scontent.xx.fbcdn.net 198.19.15.5 2001:db8:15::5 web
facebook_messenger star.c10r.facebook.com 198.19.15.6 2001:db8:15::6 web
facebook_messenger stun.fbsbx.com 198.19.15.7 2001:db8:15::7 web
control example.org 198.19.11.13 2001:db8:11::13 web
domestic kaspi.kz 198.19.9.1 2001:db8:19::1 web
domestic egov.kz 198.19.9.2 2001:db8:19::2 web
domestic homebank.kz 198.19.9.3 2001:db8:19::3 web
domestic kazpost.kz 198.19.9.4 2001:db8:19::4 web
collector collector.example.net 198.19.11.80 2001:db8:11::80 svc
'

# Fixed infrastructure addresses (docs/lab.md "Topology").
LAB_RESOLVER4=198.19.10.53
LAB_RESOLVER6=2001:db8:10::53
LAB_FORGED4=198.19.66.66
LAB_FORGED6=2001:db8:66::66
LAB_CL4=198.19.1.2  LAB_CL6=2001:db8:1::2
LAB_CENCL4=198.19.1.1 LAB_CENCL6=2001:db8:1::1
LAB_SV4=198.19.2.2  LAB_SV6=2001:db8:2::2
LAB_CENSV4=198.19.2.1 LAB_CENSV6=2001:db8:2::1
LAB_SVC_NET4=198.19.8.0/21
LAB_SVC_NET6=2001:db8:10::/44
LAB_BLOCKPAGE_PORT=8080
LAB_MITM_PORT=8443
LAB_APPS='whatsapp telegram signal facebook_messenger'
