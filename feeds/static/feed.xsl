<?xml version="1.0" encoding="UTF-8"?>
<!--
  postroom's feeds, opened in a browser: a page that says what a web feed is and how to
  subscribe, with the feed's title, description and entries. Feed readers ignore the
  xml-stylesheet instruction that names this file; browsers that still run XSLT apply it.

  Safe by construction: every value from the feed is written with xsl:value-of (text,
  escaped; disable-output-escaping is never used), entry content is not shown at all,
  and a link is made only of an http(s) address. XSLT 1.0, as browsers run it.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:a="http://www.w3.org/2005/Atom"
    xmlns:fh="http://purl.org/syndication/history/1.0"
    exclude-result-prefixes="a fh">
  <xsl:output method="html" encoding="UTF-8" indent="no" doctype-system="about:legacy-compat"/>

  <xsl:variable name="head" select="/a:feed | /rss/channel"/>
  <xsl:variable name="archive" select="boolean($head/fh:archive)"/>
  <xsl:variable name="self" select="$head/a:link[@rel='self']/@href"/>
  <xsl:variable name="current" select="$head/a:link[@rel='current']/@href"/>
  <xsl:variable name="address">
    <xsl:choose>
      <xsl:when test="$archive and $current"><xsl:value-of select="$current"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="$self"/></xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <xsl:variable name="kind">
    <xsl:choose>
      <xsl:when test="/a:feed">Atom</xsl:when>
      <xsl:otherwise>RSS</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>

  <xsl:template match="/">
    <html>
      <xsl:attribute name="lang">
        <xsl:value-of select="(/a:feed/@xml:lang | /rss/channel/language)[1]"/>
      </xsl:attribute>
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="robots" content="noindex"/>
        <title><xsl:value-of select="$head/title | $head/a:title"/> (web feed)</title>
        <style>
          :root { color-scheme: light dark; }
          body { max-width: 42rem; margin: 0 auto; padding: 1rem;
                 font: 1rem/1.5 system-ui, sans-serif; overflow-wrap: anywhere; }
          .about { border: 1px solid; border-radius: .5rem; padding: .25rem 1rem; }
          code { display: block; padding: .5rem; border: 1px dashed; word-break: break-all;
                 user-select: all; }
          ol { padding-left: 1.25rem; }
          li { margin: 0 0 1rem; }
          time, .summary { display: block; font-size: .9rem; }
        </style>
      </head>
      <body>
        <section class="about">
          <p>
            <strong>This is a web feed</strong> (<xsl:value-of select="$kind"/>), also known
            as an RSS feed. Copy this address into your feed reader to get new posts as they
            are published:
          </p>
          <code><xsl:value-of select="$address"/></code>
          <p>A feed reader is an app or website that collects the feeds you subscribe to
            in one place. This page is the feed itself, shown for people.</p>
          <xsl:if test="$archive">
            <p>This is an <strong>archive page</strong> of the feed: it keeps older posts
              so that a feed reader can fetch the whole history. Subscribe to the address
              above, not to this page.</p>
          </xsl:if>
        </section>
        <header>
          <h1><xsl:value-of select="$head/title | $head/a:title"/></h1>
          <p><xsl:value-of select="$head/description | $head/a:subtitle"/></p>
          <p>
            <xsl:call-template name="link">
              <xsl:with-param name="url"
                  select="($head/a:link[@rel='alternate']/@href | $head/link)[1]"/>
              <xsl:with-param name="text">Visit the website</xsl:with-param>
            </xsl:call-template>
          </p>
        </header>
        <main>
          <h2>
            <xsl:choose>
              <xsl:when test="$archive">Posts on this archive page</xsl:when>
              <xsl:otherwise>Latest posts</xsl:otherwise>
            </xsl:choose>
          </h2>
          <ol class="entries">
            <xsl:apply-templates select="$head/a:entry | $head/item"/>
          </ol>
          <xsl:for-each select="$head/a:link[@rel='prev-archive' or @rel='next-archive']">
            <p>
              <xsl:call-template name="link">
                <xsl:with-param name="url" select="@href"/>
                <xsl:with-param name="text">
                  <xsl:choose>
                    <xsl:when test="@rel = 'prev-archive'">Older posts</xsl:when>
                    <xsl:otherwise>Newer posts</xsl:otherwise>
                  </xsl:choose>
                </xsl:with-param>
              </xsl:call-template>
            </p>
          </xsl:for-each>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="a:entry">
    <li>
      <xsl:call-template name="title">
        <xsl:with-param name="url"
            select="(a:link[@rel='alternate'] | a:link[not(@rel)])[1]/@href"/>
        <xsl:with-param name="text" select="a:title"/>
      </xsl:call-template>
      <time datetime="{(a:published | a:updated)[1]}">
        <xsl:value-of select="substring((a:published | a:updated)[1], 1, 10)"/>
      </time>
      <span class="summary"><xsl:value-of select="a:summary"/></span>
    </li>
  </xsl:template>

  <xsl:template match="item">
    <li>
      <xsl:call-template name="title">
        <xsl:with-param name="url" select="link"/>
        <xsl:with-param name="text" select="title"/>
      </xsl:call-template>
      <time><xsl:value-of select="substring(pubDate, 1, 16)"/></time>
      <span class="summary"><xsl:value-of select="description"/></span>
    </li>
  </xsl:template>

  <!-- An entry's title, a link when its address is http(s). -->
  <xsl:template name="title">
    <xsl:param name="url"/>
    <xsl:param name="text"/>
    <strong>
      <xsl:call-template name="link">
        <xsl:with-param name="url" select="$url"/>
        <xsl:with-param name="text" select="$text"/>
      </xsl:call-template>
    </strong>
  </xsl:template>

  <!-- A link only to an http(s) address (never javascript: or data:); otherwise the text
       alone, and nothing at all when there is no address and no text. -->
  <xsl:template name="link">
    <xsl:param name="url"/>
    <xsl:param name="text"/>
    <xsl:variable name="scheme" select="translate(substring-before($url, ':'),
        'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"/>
    <xsl:choose>
      <xsl:when test="$scheme = 'https' or $scheme = 'http'">
        <a href="{$url}"><xsl:value-of select="$text"/></a>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
