#!/usr/bin/perl
# Verifies every DKIM-Signature of a message with Perl Mail::DKIM (Debian libmail-dkim-perl), a
# verifier that shares no code with libopendkim or dkimpy.
#
# Debian 12's Mail::DKIM 1.20230212 knows rsa-sha1 and rsa-sha256 only. For ed25519-sha256
# (RFC 8463) this script adds the one missing step as a Mail::DKIM algorithm class: Mail::DKIM
# still does everything DKIM-specific (tag parsing, header selection, both canonicalizations,
# the header hash, the body hash, the key record), and the final check — PureEdDSA Ed25519 over
# the SHA-256 header hash, RFC 8463 §3 — is done by CryptX's Crypt::PK::Ed25519 (libtomcrypt),
# which is neither OpenSSL (libopendkim) nor libsodium (dkimpy).
#
#   verify_perl.pl [--txt NAME=VALUE ...] [--dns IP:PORT] MESSAGE_FILE...
#
# Keys come either from --txt (Mail::DKIM::DNS::query is replaced, the verifier's key-lookup
# hook) or from a real DNS server at IP:PORT through Net::DNS. Prints, per message file,
# "MESSAGE k", then per signature:
#   RESULT index=0 d=example.test s=sel a=rsa-sha256 result=pass detail=
# then "SIGNATURES n". Exit status 0 whenever it ran; pass or fail is in the lines.
use strict;
use warnings;
use Getopt::Long;
use Mail::DKIM::Verifier;
use Mail::DKIM::DNS;
use Net::DNS;

use MIME::Base64 qw(decode_base64);
use Crypt::PK::Ed25519;
use Mail::DKIM::Algorithm::rsa_sha256;
use Mail::DKIM::PublicKey;
use Mail::DKIM::Signature;

{
    package Mail::DKIM::Algorithm::ed25519_sha256;
    use MIME::Base64 qw(decode_base64);
    # rsa_sha256 gives the SHA-256 header and body digests; only verify() differs.
    use base 'Mail::DKIM::Algorithm::rsa_sha256';

    sub verify {
        my $self = shift;
        my $public_key = $self->signature->get_public_key;
        # RFC 6376 §3.6.1 k= must name the signature's key type.
        return unless ( $public_key->get_tag('k') // 'rsa' ) eq 'ed25519';
        my $raw = decode_base64( $public_key->data );
        return unless length($raw) == 32;
        my $ed = Crypt::PK::Ed25519->new;
        $ed->import_key_raw( $raw, 'public' );
        my $digest = $self->{header_digest}->digest;
        return unless $ed->verify_message( decode_base64( $self->signature->data ), $digest );
        return $self->check_body_hash;
    }
}

{
    no warnings 'redefine';
    my $orig_class = \&Mail::DKIM::Signature::get_algorithm_class;
    *Mail::DKIM::Signature::get_algorithm_class = sub {
        my ( $self, $algorithm ) = @_;
        return 'Mail::DKIM::Algorithm::ed25519_sha256' if $algorithm eq 'ed25519-sha256';
        return $orig_class->( $self, $algorithm );
    };
    # The key record check insists on k=rsa and loads p= into OpenSSL's RSA; for k=ed25519 the
    # same checks are made against a 32-octet Ed25519 key instead.
    my $orig_check = \&Mail::DKIM::PublicKey::check;
    *Mail::DKIM::PublicKey::check = sub {
        my $self = shift;
        my $k = $self->get_tag('k');
        return $orig_check->( $self, @_ ) unless defined $k && $k eq 'ed25519';
        if ( my $v = $self->get_tag('v') ) { die "unsupported version\n" unless $v eq 'DKIM1'; }
        my $p = $self->data;
        die "missing p= tag\n" unless defined $p;
        die "revoked\n" if $p eq '';
        die "invalid data\n" unless $p =~ /^[A-Za-z0-9\+\/\=]+$/;
        my $raw = decode_base64($p);
        die "Ed25519 public key is not 32 octets\n" unless length($raw) == 32;
        eval { Crypt::PK::Ed25519->new->import_key_raw( $raw, 'public' ); 1 } or die "invalid Ed25519 key\n";
        if ( my $s = $self->get_tag('s') ) {
            die "does not support email\n" unless grep { $_ eq '*' || $_ eq 'email' } split( /:/, $s );
        }
        # The verifier asks the key's OpenSSL object (Mail::DKIM::Key::cork) for its size, for
        # Strict mode's 1024-bit floor; an Ed25519 key has no such object and a fixed size.
        $self->{'CORK'} = bless {}, 'Ed25519KeySize';
        return 1;
    };
}

{
    package Ed25519KeySize;
    sub size { 32 }    # octets
}

my @txt;
my $dns;
GetOptions('txt=s' => \@txt, 'dns=s' => \$dns) or die "usage\n";
@ARGV or die "usage: verify_perl.pl [--txt NAME=VALUE] [--dns IP:PORT] MESSAGE_FILE...\n";

if ($dns) {
    my ($host, $port) = $dns =~ /^(.*):(\d+)$/ or die "bad --dns $dns\n";
    Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(
        nameservers => [$host], port => $port, recurse => 0, udp_timeout => 2, tcp_timeout => 2, retry => 2));
} else {
    my %keys;
    for my $item (@txt) {
        my ($name, $value) = split /=/, $item, 2;
        $name = lc $name;
        $name =~ s/\.$//;
        $keys{$name} = $value;
    }
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($name, $type) = @_;
        my $key = lc $name;
        $key =~ s/\.$//;
        return () unless $type eq 'TXT' && exists $keys{$key};
        # A TXT RR with the value split into 255-octet strings, as DNS would carry it.
        my @strings = unpack('(a255)*', $keys{$key});
        return (Net::DNS::RR->new(name => $name, type => 'TXT', ttl => 60, txtdata => \@strings));
    };
}

for my $k (0 .. $#ARGV) {
    my $file = $ARGV[$k];
    open(my $fh, '<:raw', $file) or die "$file: $!\n";
    my $msg = do { local $/; <$fh> };
    close $fh;
    print "MESSAGE $k\n";

    my $dkim = Mail::DKIM::Verifier->new();
    $dkim->PRINT($msg);
    $dkim->CLOSE();

    my $i = 0;
    for my $sig ($dkim->signatures) {
        my $detail = $sig->result_detail // '';
        $detail =~ s/\s+/ /g;
        printf "RESULT index=%d d=%s s=%s a=%s result=%s detail=%s\n", $i++, $sig->domain // '',
            $sig->selector // '', $sig->algorithm // '', $sig->result // '', $detail;
    }
    print "SIGNATURES $i\n";
}
